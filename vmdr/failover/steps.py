"""The Azure work of each failover step and of each compensation, for the activities.

Every function reads the plan pinned for the run (so a plan edited mid-run changes nothing),
is idempotent, and returns a small JSON-able result. Compensations undo only what this run did.
"""

from __future__ import annotations

from typing import Any

from vmdr.azure import AzureClients
from vmdr.catalog import Catalog
from vmdr.ops import dns, health, power, recover, scale_sets, standby
from vmdr.ops.power import VmRef


def recover_vm(
    catalog: Catalog, clients: AzureClients, plan_name: str, run_id: str, vm: str, rp_id: str,
    size: str,
) -> dict[str, Any]:
    """Disks from the point's secondary copies, NICs in the secondary subnet, then the VM (which
    Azure starts on creation)."""
    plan = catalog.load_run_plan(plan_name, run_id)
    point, _ = catalog.read_point(plan_name, vm, rp_id)
    disk_ids = recover.create_disks(clients, plan, run_id, point)
    nic_ids = recover.create_nics(clients, plan, run_id, point, plan.secondary.subnet_id)
    created = recover.create_vm(clients, plan, run_id, point, disk_ids, nic_ids, size)
    return {"vm": vm, "id": created["id"], "name": created["name"], "size": created["size"],
            "disks": list(disk_ids.values()), "nics": nic_ids}


def delete_recovered_vm(
    catalog: Catalog, clients: AzureClients, plan_name: str, run_id: str, vm: str
) -> dict[str, Any]:
    plan = catalog.load_run_plan(plan_name, run_id)
    return {"deleted": recover.delete_run_resources(clients, plan, run_id, vm)}


def standby_state(clients: AzureClients, vm: VmRef) -> dict[str, Any]:
    return standby.state(clients, vm)


def resize_standby(clients: AzureClients, vm: VmRef, size: str, running: bool) -> dict[str, Any]:
    return standby.resize(clients, vm, size, running)


def scale_set_capacity(clients: AzureClients, ref: dict) -> dict[str, Any]:
    return scale_sets.capacity(clients, ref["subscription_id"], ref["resource_group"], ref["name"])


def set_scale_set_capacity(clients: AzureClients, ref: dict, count: int) -> dict[str, Any]:
    return scale_sets.set_capacity(
        clients, ref["subscription_id"], ref["resource_group"], ref["name"], count
    )


def endpoint_statuses(clients: AzureClients, endpoint_ids: list[str]) -> dict[str, str]:
    return {endpoint: dns.endpoint_status(clients, endpoint) for endpoint in endpoint_ids}


def set_endpoint_statuses(clients: AzureClients, statuses: dict[str, str]) -> dict[str, str]:
    """Apply in the order given (the caller disables before it enables, so DNS never has two
    live sites)."""
    return {endpoint: dns.set_endpoint_status(clients, endpoint, status)
            for endpoint, status in statuses.items()}


def dns_answer(clients: AzureClients, profile_id: str) -> dict[str, Any]:
    return dns.answer(clients, profile_id)


def probe(clients: AzureClients, url: str, expect_status: int,
          allow_loopback: bool = False) -> dict[str, Any]:
    return health.probe(clients, url, expect_status, allow_loopback)


def power_states(clients: AzureClients, vms: list[dict]) -> dict[str, str | None]:
    return {vm["name"]: power.power_state(clients, VmRef(**vm)) for vm in vms}
