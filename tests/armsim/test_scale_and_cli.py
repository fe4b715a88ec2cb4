"""A 1,000-VM estate costs per request what a 10-VM one does; `python -m armsim serve` runs on
its own and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from armsim_support import DEMO_ESTATE, SUB
from azure.core.exceptions import HttpResponseError

from armsim import estate as estate_module
from armsim.testing import ArmSimInfo, compute_client, running_armsim

REPO = Path(__file__).resolve().parents[2]


def _use(azurite, n_vms: int) -> dict[str, int]:
    """Seed an n-VM estate, GET 50 VMs, deallocate one, list them all: what armsim answered,
    by count (how fast is `make bench`'s business)."""
    estate = estate_module.generate(n_vms, data_disks=1)
    with running_armsim(azurite.describe(), estate=estate) as sim:
        compute = compute_client(sim.info)
        counts = sim.admin.state()["counts"]
        for index in range(50):
            vm = compute.virtual_machines.get("rg-bulk-000", f"vm-{index % 10:04d}")
            assert vm.name == f"vm-{index % 10:04d}"
        compute.virtual_machines.begin_deallocate("rg-bulk-000", "vm-0003").result()
        view = compute.virtual_machines.instance_view("rg-bulk-000", "vm-0003")
        listed = sum(1 for _ in compute.virtual_machines.list_all())
        log = sim.admin.operation_log()
    return {"vms": counts["Microsoft.Compute/virtualMachines"],
            "disks": counts["Microsoft.Compute/disks"], "listed": listed,
            "gets": sum(1 for e in log if e["method"] == "GET" and e["path"].endswith(
                ("/vm-0000", "/vm-0001", "/vm-0002")) and e["status"] == 200),
            "failed": sum(1 for e in log if e["status"] >= 400),
            "list_pages": sum(1 for e in log if e["action"] ==
                              "Microsoft.Compute/virtualMachines/read" and "/virtualMachines"
                              in e["path"] and e["path"].rstrip("/").endswith("virtualMachines")),
            "deallocated": int(any(s.code == "PowerState/deallocated" for s in view.statuses))}


def test_thousand_vm_estate_answers_like_ten(azurite):
    small = _use(azurite, 10)
    big = _use(azurite, 1000)
    assert big["vms"] == 1000 and big["disks"] == 2000 and big["listed"] == 1000
    assert small["vms"] == 10 and small["listed"] == 10
    # The same work gets the same answers at either size: every GET answered once, nothing
    # refused, the action done; only the listing takes more pages.
    for result in (small, big):
        assert result["failed"] == 0 and result["deallocated"] == 1, result
        assert result["gets"] == 15, result  # vm-0000..0002, five times each
    assert big["list_pages"] >= small["list_pages"] >= 1


def test_serve_cli_writes_ready_file_and_stops_on_sigterm(azurite, tmp_path):
    ready = tmp_path / "ready.json"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("VMDR_SIM_CLOCK", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "armsim", "serve", "--estate", str(DEMO_ESTATE),
         "--ready-file", str(ready), "--azurite", json.dumps(azurite.describe()),
         "--time-scale", "600", "--state-dir", str(tmp_path / "state"),
         "--principal", f"ops=*@/subscriptions/{SUB}/resourceGroups/rg-shop-neu",
         "--principal", f"ops=infra/roles/primary.json@/subscriptions/{SUB}/resourceGroups/"
         "rg-shop-weu"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "no ready file"
            time.sleep(0.1)
        data = json.loads(ready.read_text())
        assert set(data) >= {"endpoint", "ca_bundle", "admin", "subscriptions", "tokens",
                             "clock", "azurite"}
        info = ArmSimInfo.from_file(ready)
        assert info.azurite == azurite.describe()
        assert info.virtual_clock().scale == 600
        names = sorted(vm.name for vm in compute_client(info).virtual_machines.list_all())
        assert names == ["shop-app-1", "shop-app-2", "shop-db-1", "shop-db-standby"]
        assert set(info.tokens) == {"owner", "vmdr", "ops"}
        # ops: anything in rg-shop-neu, the primary role in rg-shop-weu
        ops = compute_client(info, principal="ops", retry_total=0)
        ops.virtual_machines.begin_restart("rg-shop-neu", "shop-db-standby").result()
        ops.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
        with pytest.raises(HttpResponseError) as caught:
            ops.virtual_machines.begin_restart("rg-shop-weu", "shop-app-1")
        assert caught.value.status_code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0


@pytest.mark.parametrize("principal, says", [
    ("vmdr=*", "app's managed identity"),
    ("ops=infra/roles/no-such-role.json", "RoleDefinitionDoesNotExist"),
])
def test_serve_cli_refuses_a_role_it_cannot_grant_and_says_why(azurite, tmp_path, principal,
                                                                says):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("VMDR_SIM_CLOCK", None)
    done = subprocess.run(
        [sys.executable, "-m", "armsim", "serve", "--estate", str(DEMO_ESTATE),
         "--ready-file", str(tmp_path / "ready.json"), "--azurite",
         json.dumps(azurite.describe()), "--state-dir", str(tmp_path / "state"),
         "--principal", principal],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "ready.json").exists()
