"""The estates and plans the benchmarks run: a three-tier application of N VMs.

Failover: a data tier of standby-resize VMs (one in twenty), an app tier of recover-from-copy VMs
with `disks` disks each, a web tier of one scale set scaled out to 3 — unplanned, with the primary
region down, as the issue's measurements were taken. Protect: N recover-from-copy VMs with
`disks` disks each. All primary VMs live in one resource group (a plan has one per site).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from armsim.estate import DEMO_SUBSCRIPTION, generate
from localplatform.identity import vmdr_assignments

SUB = DEMO_SUBSCRIPTION
PRIMARY_RG = "rg-bulk-000"
SECONDARY_RG = "rg-bulk-northeurope"
SUBNET = (f"/subscriptions/{SUB}/resourceGroups/rg-net-northeurope/providers/Microsoft.Network/"
          "virtualNetworks/vnet-northeurope/subnets/app")
PRIMARY_SUBNET = (f"/subscriptions/{SUB}/resourceGroups/rg-net-westeurope/providers/"
                  "Microsoft.Network/virtualNetworks/vnet-westeurope/subnets/app")


@dataclass(frozen=True)
class Scenario:
    name: str
    vms: int
    disks: int  # per VM, OS disk included
    estate: dict[str, Any]
    plan: dict[str, Any]

    @property
    def plan_name(self) -> str:
        return self.plan["name"]


def _estate(app_vms: int, disks: int, standbys: int) -> dict[str, Any]:
    estate = generate(app_vms + standbys, data_disks=disks - 1,
                      vms_per_group=app_vms + standbys + 1)
    # The secondary subnet is a /16: a /24 holds 251 NICs (Azure keeps 5 addresses per subnet).
    for subnet in estate["subnets"]:
        if subnet["id"] == SUBNET:
            subnet["prefix"] = "10.200.0.0/16"
    for index in range(standbys):
        estate["vms"].append({
            "name": f"vm-{app_vms + index:04d}-standby", "resource_group": SECONDARY_RG,
            "size": "Standard_B2s", "tags": {"app": "bulk", "role": "db"},
            "os_disk": {"size_gb": 32, "os_type": "Linux"},
            "data_disks": [{"lun": lun, "size_gb": 32} for lun in range(disks - 1)],
            "nics": [{"subnet": SUBNET, "private_ip": f"10.9.{index // 250}.{4 + index % 250}"}],
        })
    estate["scale_sets"] = [
        {"name": "web", "resource_group": PRIMARY_RG, "size": "Standard_D2s_v5", "capacity": 3,
         "tags": {"app": "bulk", "role": "web"}},
        {"name": "web", "resource_group": SECONDARY_RG, "size": "Standard_D2s_v5",
         "capacity": 0, "tags": {"app": "bulk", "role": "web"}},
    ]
    estate["principals"]["vmdr"] = {"assignments": vmdr_assignments(
        SUB, primary_resource_groups=[PRIMARY_RG], secondary_resource_group=SECONDARY_RG,
        subnets=[SUBNET])}
    return estate


def _plan(name: str, groups: list[dict], rpo_minutes: int, schedule: str) -> dict[str, Any]:
    return {
        "name": name,
        "primary": {"subscription_id": SUB, "region": "westeurope",
                    "resource_group": PRIMARY_RG},
        "secondary": {"subscription_id": SUB, "region": "northeurope",
                      "resource_group": SECONDARY_RG, "subnet_id": SUBNET},
        "protection": {"schedule": schedule, "rpo_minutes": rpo_minutes,
                       "retention": {"keep_last": 2}},
        "groups": groups,
    }


def failover(vms: int, disks: int = 2) -> Scenario:
    standbys = max(1, vms // 20)
    app = vms - standbys
    groups = [
        {"name": "data", "vms": [
            {"name": f"vm-{app + i:04d}", "strategy": "standby-resize",
             "standby_vm": f"vm-{app + i:04d}-standby", "target_size": "Standard_E4s_v5"}
            for i in range(standbys)]},
        {"name": "app", "vms": [{"name": f"vm-{i:04d}", "strategy": "recover-from-copy"}
                                for i in range(app)]},
        {"name": "web", "scale_sets": [{"name": "web", "capacity": 3}]},
    ]
    return Scenario(f"failover-{vms}", vms, disks, _estate(app, disks, standbys),
                    _plan(f"fo{vms}", groups, 24 * 60, "0 0 */4 * * *"))


def protect(vms: int, disks: int = 3, rpo_minutes: int = 12 * 60) -> Scenario:
    groups = [{"name": "all", "vms": [{"name": f"vm-{i:04d}", "strategy": "recover-from-copy"}
                                      for i in range(vms)]}]
    return Scenario(f"protect-{vms}x{disks}", vms, disks, _estate(vms, disks, 0),
                    _plan(f"pr{vms}", groups, rpo_minutes, "0 0 */12 * * *"))
