"""A VM with unmanaged disks (VHDs in a storage account) put in a plan: its protect cycle fails
that VM with a sentence saying why and what to do, asks Azure nothing for it, and protects the
plan's other VMs as usual."""

from __future__ import annotations

import yaml

from tests.app.support import ROOT, run_cycle
from tests.oplog import primary_violations

WEU_SUBNET = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net-weu/"
              "providers/Microsoft.Network/virtualNetworks/vnet-weu/subnets/app")
LEGACY = {"vms": [{
    "name": "legacy-1", "resource_group": "rg-shop-weu", "size": "Standard_D2s_v5",
    "os_disk": {"vhd": "https://legacyweu.blob.core.windows.net/vhds/legacy-1-os.vhd"},
    "data_disks": [{"lun": 0, "vhd": "https://legacyweu.blob.core.windows.net/vhds/l-0.vhd"}],
    "nics": [{"subnet": WEU_SUBNET, "private_ip": "10.1.0.99"}]}]}


def test_a_vm_with_unmanaged_disks_fails_its_cycle_with_a_clear_error(arm, catalog,
                                                                       azure_clients):
    arm.admin.seed(LEGACY)
    plan = yaml.safe_load((ROOT / "examples/plans/shop.yaml").read_text())
    plan["groups"] = [{"name": "app", "vms": [
        {"name": "legacy-1", "strategy": "recover-from-copy"},
        {"name": "shop-app-1", "strategy": "recover-from-copy"}]}]
    plan.pop("drill")
    catalog.put_plan("shop", yaml.safe_dump(plan))
    arm.admin.clear_operation_log()

    finished = run_cycle(catalog, azure_clients)

    rows = {row["vm"]: row for row in finished["vms"]}
    assert rows["shop-app-1"]["outcome"] == "protected"
    assert rows["legacy-1"]["outcome"] == "failed"
    error = rows["legacy-1"]["error"]
    assert error.startswith("VM legacy-1 has unmanaged disks (legacy-1-osdisk, legacy-1-data0:")
    assert "vmdr protects managed disks only" in error and "az vm convert" in error
    assert "Traceback" not in error and "NoneType" not in error
    assert [p.vm for p in catalog.list_points("shop")] == ["shop-app-1"]
    log = arm.admin.operation_log()
    assert [e for e in log if "legacy-1" in e["path"] and e["method"] != "GET"] == []
    assert primary_violations(log) == []
