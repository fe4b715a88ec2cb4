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


def _measure(azurite, n_vms: int) -> dict[str, float]:
    estate = estate_module.generate(n_vms, data_disks=1)
    started = time.perf_counter()
    with running_armsim(azurite.describe(), estate=estate) as sim:
        seeded = time.perf_counter() - started
        compute = compute_client(sim.info)
        counts = sim.admin.state()["counts"]
        gets = 50
        started = time.perf_counter()
        for index in range(gets):
            vm = compute.virtual_machines.get("rg-bulk-000", f"vm-{index % 10:04d}")
            assert vm.name == f"vm-{index % 10:04d}"
        per_get = (time.perf_counter() - started) / gets
        started = time.perf_counter()
        compute.virtual_machines.begin_deallocate("rg-bulk-000", "vm-0003").result()
        action = time.perf_counter() - started
        listed = sum(1 for _ in compute.virtual_machines.list_all())
    return {"seed_s": seeded, "get_ms": per_get * 1000, "deallocate_ms": action * 1000,
            "vms": counts["Microsoft.Compute/virtualMachines"],
            "disks": counts["Microsoft.Compute/disks"], "listed": listed}


def test_thousand_vm_estate_answers_like_ten(azurite):
    small = _measure(azurite, 10)
    big = _measure(azurite, 1000)
    print(f"\n10 VMs:    {small}\n1000 VMs:  {big}")
    assert big["vms"] == 1000 and big["disks"] == 2000 and big["listed"] == 1000
    assert small["vms"] == 10 and small["listed"] == 10
    # Generous bounds on counts and ratios, not on absolute wall time.
    assert big["get_ms"] < max(4 * small["get_ms"], small["get_ms"] + 20)
    assert big["seed_s"] < 30


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
