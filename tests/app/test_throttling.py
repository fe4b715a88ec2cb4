"""A Compute throttle with a long Retry-After (1200 s: learn.microsoft.com, "Troubleshooting API
throttling errors") ends the activity's attempt at once and becomes a wait, not a sleep: the
advance activity, through the Function App's own indexing, the real SDK and armsim."""

from __future__ import annotations

from azure.core.pipeline.transport import RequestsTransport

from tests.app.support import store_plan
from tests.app.test_failover_steps import db_run
from vmdr import functions as fn

VM_WRITE = "Microsoft.Compute/virtualMachines/write"


def test_a_throttled_vm_put_ends_the_activity_with_a_wait_of_its_retry_after(
        arm, catalog, azure_clients, app_functions, monkeypatch):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    run_id = db_run(catalog, azure_clients, arm)
    clock = arm.sim.clock
    # A sleep of the SDK takes its time on the virtual clock, not in real time: a test of the
    # old behaviour (an activity asleep for 1200 s) ends at once and shows how long it slept.
    slept: list[float] = []

    def virtual_sleep(self, seconds: float) -> None:
        slept.append(float(seconds))
        clock.advance(float(seconds))

    monkeypatch.setattr(RequestsTransport, "sleep", virtual_sleep)
    arm.admin.set_throttle(VM_WRITE, retry_after=1200)
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    advance = app_functions[fn.ADVANCE_RECOVERY].get_user_function()
    memo: dict = {}
    for _ in range(20):  # disks and NIC first; the VM PUT once they are there
        with clock.busy():  # virtual time runs at real speed while the activity works
            before = clock.now()
            progress = advance({"plan": "shop", "run_id": run_id, "group": "data",
                                "allowance": 200, "memo": memo})
            inside = (clock.now() - before).total_seconds()
        assert inside < 60, f"the activity took {inside:.0f} virtual s (slept {slept})"
        memo = progress["memo"]
        if progress.get("retry_after") or progress["done"] or progress["failed_count"]:
            break
        clock.advance(60)  # the next look, a minute later
    assert not progress["done"] and not progress["failed_count"]
    assert 1100 <= progress["wait"] <= 1200 and progress["retry_after"] == progress["wait"]
    assert progress["throttled"] == 1 and "OperationNotAllowed" in progress["detail"]["throttled"]
    assert not [s for s in slept if s > 10]
    puts = [e for e in arm.admin.operation_log(since_seq=since, action=VM_WRITE)]
    assert [e["status"] for e in puts] == [429]  # asked once, not retried inside the activity


def test_a_throttled_capture_makes_the_cycles_next_look_wait_its_retry_after(
        arm, catalog, azure_clients):
    """A refusal an advance catches itself (a snapshot "refused for now", asked again at the next
    look) still sets the next look no sooner than Azure's Retry-After: not a look every few
    seconds for 20 minutes, nor the VM failed after a few of them."""
    from vmdr import clock as vmdr_clock
    from vmdr import protect

    store_plan(catalog, "snapshot-set", "snapshot-copy")
    arm.admin.set_throttle("Microsoft.Compute/snapshots/write", retry_after=1200,
                           resource_contains="shop-db-1")
    now = vmdr_clock.utcnow()
    cycle_id = f"{now:%Y%m%dt%H%M%Sz}-throttled"
    protect.start_cycle(catalog, protect.StartCycle(plan="shop", cycle_id=cycle_id, now=now))
    for _ in range(5):
        progress = protect.advance_cycle(catalog, azure_clients, protect.CycleRef(
            plan="shop", cycle_id=cycle_id, allowance=200), vmdr_clock.utcnow())
        if progress.get("retry_after"):
            break
    assert progress["retry_after"] and 1000 <= progress["retry_after"] <= 1200, progress
    assert progress["wait"] >= progress["retry_after"] and not progress["failed_count"]
    record, _ = catalog.read_json(protect.cycle_blob("shop", cycle_id))
    assert record["vms"]["shop-db-1"]["outcome"] != "failed"
