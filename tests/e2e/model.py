"""A seeded scheduler of what operators, Azure Monitor, timers and crashes do to one plan at
once, and the invariants checked after each schedule (tests/e2e/test_model.py; `make soak`).

A schedule is a list of steps drawn from a seeded random generator: starts (protect, drill,
failover planned/unplanned, re-protect, failback, compensate), alerts, timer ticks (protect,
drill, watchdog), plan PUTs (the same plan, or one without a VM), approvals, rejections, aborts,
host kills and restarts — some sent together from threads, with short pauses between. Every
answer must be below 500. Then the schedule settles (pending approvals answered, the watchdog
run, a plan that needs attention compensated) and the invariants are checked from armsim's
operation log and resources and from the catalog:

1. never two running copies of one VM across the regions (after a planned failover);
2. no primary VM started by vmdr after a failover fenced it, until that run undoes itself or a
   failback or compensation begins;
3. every saga run ends with a report, and the plan ends in a state whose next step starts;
4. nothing vmdr did not create is deleted, and everything it created is tagged;
5. nothing tagged with a run is left without a report that accounts for it.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from armsim.lro import LatencyProfile
from tests.e2e.test_alerts_and_api import alert, post_alert
from tests.e2e.test_lifecycle import grant_failback_role, shop
from vmdr import tags

PRIMARY, SECONDARY = "rg-shop-weu", "rg-shop-neu"
SAGAS = ("failover-shop", "failback-shop", "resolve-shop")
RUNNING_STATES = {"failing-over", "failing-back"}
# Each action with its weight: the races that matter (a cycle and a failover, a PUT and a
# start) come up often; a host kill now and then.
ACTIONS = {"protect": 4, "protect_tick": 3, "drill": 2, "drill_abort": 1, "failover_planned": 4,
           "failover_unplanned": 2, "alert": 2, "approve": 2, "reject": 1, "abort": 1,
           "reprotect": 2, "failback": 2, "failback_approve": 1, "put_same": 1,
           "put_smaller": 2, "watchdog": 2, "drill_tick": 1, "kill": 1, "compensate": 1,
           "pause": 2}
# Latency profiles (virtual seconds): Azure's defaults, or power actions slow enough that a
# clean copy is under way when the next start comes.
PROFILES = ({}, {"vm_deallocate": 900, "vm_start": 600, "snapshot_create": 300},
            {"vm_create": 900, "disk_copy": 300})


@dataclass
class Outcome:
    seed: int
    steps: list[str] = field(default_factory=list)
    answers: list[tuple[str, int]] = field(default_factory=list)
    checks: int = 0
    violations: list[str] = field(default_factory=list)

    def check(self, holds: bool, what: str) -> None:
        self.checks += 1
        if not holds:
            self.violations.append(what)


class Schedule:
    def __init__(self, vmdr, seed: int, length: int = 10):
        self.vmdr, self.seed, self.length = vmdr, seed, length
        self.random = random.Random(seed)
        self.outcome = Outcome(seed)
        self.plan = shop(vmdr)
        self.alerts = 0
        self.since = 0

    # --- the steps -------------------------------------------------------------------------

    def _call(self, what: str, method: str, route: str, body: Any = None) -> None:
        response = self.vmdr.client.call(method, route, json_body=body)
        self.outcome.answers.append((what, response.status))

    def step(self, action: str) -> None:
        vmdr, plan = self.vmdr, "plans/shop"
        if action == "protect":
            self._call(action, "POST", f"{plan}/protect")
        elif action in ("protect_tick", "watchdog", "drill_tick"):
            name = {"protect_tick": "protect_tick", "watchdog": "watchdog_tick",
                    "drill_tick": "drill_tick"}[action]
            vmdr.client.run_function(name)
        elif action == "drill":
            self._call(action, "POST", f"{plan}/drills", {"keep_minutes": 0})
        elif action == "drill_abort":
            self._call(action, "POST", f"{plan}/drills/abort", {})
        elif action == "failover_planned":
            self._call(action, "POST", f"{plan}/failover", {"mode": "planned"})
        elif action == "failover_unplanned":
            self._call(action, "POST", f"{plan}/failover", {"mode": "unplanned"})
        elif action == "alert":
            self.alerts += 1
            response = post_alert(vmdr, alert(alert_id=f"model-{self.seed}-{self.alerts}"))
            self.outcome.answers.append((action, response.status))
        elif action in ("approve", "reject", "abort"):
            self._call(action, "POST", f"{plan}/failover/{action}", {})
        elif action == "failback_approve":
            self._call(action, "POST", f"{plan}/failback/approve", {})
        elif action == "reprotect":
            self._call(action, "POST", f"{plan}/reprotect")
        elif action == "failback":
            self._call(action, "POST", f"{plan}/failback", {"reason": "model"})
        elif action == "compensate":
            self._call(action, "POST", f"{plan}/lifecycle", {"action": "compensate"})
        elif action == "put_same":
            vmdr.put_plan(self.plan) if self.random.random() < 0.5 else self._put(self.plan)
        elif action == "put_smaller":
            smaller = {**self.plan, "groups": [dict(g) for g in self.plan["groups"]]}
            smaller["groups"][1] = {**smaller["groups"][1],
                                    "vms": smaller["groups"][1]["vms"][:1]}
            self._put(smaller)
        elif action == "kill":
            vmdr.host.kill()
            vmdr.host = vmdr.host.restart()
        elif action == "pause":
            time.sleep(self.random.uniform(0.5, 3.0))

    def _put(self, plan: dict) -> None:
        import yaml

        response = self.vmdr.client.call("PUT", "plans/shop", body=yaml.safe_dump(plan).encode(),
                                         headers={"Content-Type": "application/yaml"})
        self.outcome.answers.append(("put", response.status))

    def run(self) -> Outcome:
        vmdr = self.vmdr
        vmdr.put_plan(self.plan)
        grant_failback_role(vmdr)
        self.since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
        # A first point, so that failovers have something to recover.
        vmdr.client.call("POST", "plans/shop/protect")
        vmdr.client.wait_for_completion("protect-shop", timeout=120)
        profile = self.random.choice(PROFILES)
        if profile:
            vmdr.admin.set_latency(**profile)
        self.outcome.steps.append(f"latency {profile}")
        index = 0
        while index < self.length:
            together = 2 if self.random.random() < 0.35 else 1
            batch = self.random.choices(list(ACTIONS), weights=list(ACTIONS.values()),
                                        k=together)
            if "kill" in batch and together > 1:
                batch = ["kill"]
            self.outcome.steps.append("+".join(batch))
            if len(batch) == 1:
                self.step(batch[0])
            else:
                with ThreadPoolExecutor(len(batch)) as pool:
                    list(pool.map(self.step, batch))
            time.sleep(self.random.uniform(0.0, 1.5))
            index += len(batch)
        self.settle()
        self.verify()
        return self.outcome

    # --- settling ----------------------------------------------------------------------------

    def settle(self, timeout: float = 420.0) -> None:
        """Let everything end: approvals answered, the watchdog run, what needs attention
        compensated (then accepted if compensating cannot finish)."""
        vmdr = self.vmdr
        vmdr.admin.set_latency(**LatencyProfile().to_dict())
        deadline = time.monotonic() + timeout
        compensated = 0
        while time.monotonic() < deadline:
            active = [i["instanceId"] for i in vmdr.client.list_instances()
                      if i["runtimeStatus"] in ("Running", "Pending")]
            for saga in ("failover", "failback"):
                status = vmdr.client.status(f"{saga}-shop")
                custom = (status or {}).get("customStatus") or {}
                if status and status["runtimeStatus"] == "Running" and \
                        custom.get("phase") == "awaiting-approval":
                    decision = self.random.choice(("approve", "reject"))
                    vmdr.client.call("POST", f"plans/shop/{saga}/{decision}", json_body={})
            vmdr.client.run_function("watchdog_tick")
            record = vmdr.catalog.read_json("lifecycle/shop.json")[0] or {}
            state, holders = record.get("state", "protected"), record.get("writers") or {}
            if not active and not holders and state not in RUNNING_STATES:
                if state != "needs-attention":
                    return
                if compensated < 2:
                    compensated += 1
                    vmdr.client.call("POST", "plans/shop/lifecycle",
                                     json_body={"action": "compensate"})
                else:
                    vmdr.client.call("POST", "plans/shop/lifecycle",
                                     json_body={"action": "accept", "state": "protected"})
            time.sleep(1.0)
        self.outcome.check(False, f"did not settle in {timeout:.0f} s: active "
                                  f"{active}, state {state}, holders {list(holders)}")

    # --- the invariants ----------------------------------------------------------------------

    def verify(self) -> None:
        vmdr, out = self.vmdr, self.outcome
        for what, status in out.answers:
            out.check(status < 500, f"{what} answered {status}")
        log = [e for e in vmdr.admin.operation_log(since_seq=self.since)]
        reports = {r.run_id: vmdr.catalog.get_run_report("shop", r.run_id)
                   for r in vmdr.catalog.list_runs("shop")}
        resources = vmdr.admin.state()["resources"]
        self._one_copy(resources, reports)
        self._fencing_held(log, reports)
        self._every_run_ended(reports)
        self._tags(log, resources)
        self._nothing_left(resources, reports)

    def _one_copy(self, resources: list[dict], reports: dict[str, dict]) -> None:
        runs = sorted((r for r in reports.values() if r and r.get("kind") == "failover"),
                      key=lambda r: r["started"])
        record = self.vmdr.catalog.read_json("lifecycle/shop.json")[0] or {}
        last = runs[-1] if runs else None
        if not last or last["outcome"] != "succeeded" or last["mode"] != "planned" or \
                record.get("state") not in ("failed-over", "reprotecting", "reprotected"):
            return
        for row in last["recovered"]:
            if row.get("kind") != "recovered VM":
                continue
            primary = _power(self.vmdr, PRIMARY, row["vm"])
            copy = _power(self.vmdr, SECONDARY, row["name"])
            self.outcome.check(not (primary == "running" and copy == "running"),
                               f"{row['vm']} runs in both regions ({row['name']})")

    def _fencing_held(self, log: list[dict], reports: dict[str, dict]) -> None:
        """Windows where no primary VM may be started: from a failover's fencing until it
        undoes itself, or until a later failback's restore or a compensation begins."""
        undo_begins = sorted(step["started"] for r in reports.values() if r
                             for step in r["steps"]
                             if step["name"].startswith(("restore", "compensate", "rollback",
                                                         "give-back")))
        starts = [e for e in log if e["method"] == "POST" and e["status"] < 300
                  and e["path"].lower().endswith("/start")
                  and f"/resourcegroups/{PRIMARY}/" in e["path"].lower()]
        for report in reports.values():
            if not report or report.get("kind") != "failover":
                continue
            fenced = next((s["started"] for s in report["steps"] if s["name"] == "fencing"),
                          None)
            if fenced is None:
                continue
            until = next((t for t in undo_begins if t >= fenced), None)
            for entry in starts:
                if entry["time"] >= fenced and (until is None or entry["time"] < until):
                    self.outcome.check(False, f"primary start after fencing of "
                                              f"{report['run_id']}: {entry['path']}")
            self.outcome.checks += 1

    def _every_run_ended(self, reports: dict[str, dict]) -> None:
        vmdr = self.vmdr
        for instance in SAGAS + ("drill-shop",):
            status = vmdr.client.status(instance)
            if status is None:
                continue
            run_id = ((status.get("customStatus") or {}).get("run_id")
                      or (status.get("output") or {}).get("run_id")
                      if isinstance(status.get("output"), dict) else None)
            if run_id:
                self.outcome.check(run_id in reports, f"{instance} {run_id} has no report")
        record = vmdr.catalog.read_json("lifecycle/shop.json")[0] or {}
        state = record.get("state", "protected")
        self.outcome.check(state not in RUNNING_STATES and not record.get("writers"),
                           f"the plan is left {state} held by {record.get('writers')}")
        nxt = {"protected": ("POST", "plans/shop/protect", None),
               "failed-over": ("POST", "plans/shop/reprotect", None),
               "reprotecting": ("POST", "plans/shop/reprotect", None),
               "reprotected": ("POST", "plans/shop/protect", None)}.get(state)
        if nxt is not None:
            response = vmdr.client.call(nxt[0], nxt[1], json_body=nxt[2])
            self.outcome.check(response.status == 202,
                               f"{state}: {nxt[1]} answered {response.status} {response.text}")
        elif state == "needs-attention":
            view = vmdr.client.call("GET", "plans/shop/lifecycle").json()
            self.outcome.check(bool(view.get("options")), "needs-attention without options")

    def _tags(self, log: list[dict], resources: list[dict]) -> None:
        """Deletes only of what vmdr created (in this schedule, or as its protect cycles'
        snapshots and restore points before it), and every resource it created carries the
        plan's tag — the standby, scale set and primary VMs it only changes excepted."""
        created = set()
        for entry in log:
            path = entry["path"].lower().split("?")[0].rstrip("/")
            if entry["status"] >= 300 or entry["principal"] != "vmdr":
                continue
            if entry["method"] == "PUT":
                created.add(path)
            if entry["method"] == "DELETE":
                ours = path in created or "/snapshots/" in path or \
                    "/restorepointcollections/" in path or "/runcommands/" in path
                self.outcome.check(ours, f"deleted what vmdr did not create: {path}")
        by_id = {r["id"].lower(): r for r in resources}
        for path in created:
            resource = by_id.get(path)
            if resource is None or "/trafficmanagerprofiles/" in path or \
                    "/runcommands/" in path:
                continue
            marks = resource.get("tags") or {}
            standing = any(name in path for name in ("shop-db-standby", "shop-web", "/disks/shop-"))
            self.outcome.check(standing or marks.get(tags.PLAN, "").startswith("shop"),
                               f"created without vmdr's tags: {path}")

    def _nothing_left(self, resources: list[dict], reports: dict[str, dict]) -> None:
        for resource in resources:
            marks = resource.get("tags") or {}
            run = marks.get(tags.RUN)
            if not run or marks.get(tags.DRILL):
                self.outcome.check(not marks.get(tags.DRILL),
                                   f"a drill's resource is left: {resource['id']}")
                continue
            report = reports.get(run)
            accounted = report is not None and (
                report["outcome"] == "succeeded"
                or resource["id"] in str(report.get("found") or "")
                or report["outcome"] in ("needs-attention", "lost"))
            self.outcome.check(accounted, f"{resource['id']} of run {run} is accounted for by "
                                          "no report")


def _power(vmdr, group: str, name: str) -> str | None:
    """`running`, `deallocated`, … of a VM (None when it does not exist)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        view = vmdr.compute.virtual_machines.instance_view(group, name)
    except ResourceNotFoundError:
        return None
    return next((s.code.split("/", 1)[1] for s in view.statuses or []
                 if s.code.startswith("PowerState/")), None)
