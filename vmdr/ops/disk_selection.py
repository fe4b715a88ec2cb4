"""Which captured disks a VM's plan protects (plan `disks.exclude_luns`, issue 14)."""

from __future__ import annotations

from vmdr.plan import Plan
from vmdr.recovery_point import DiskRecord, DiskRole


def split(plan: Plan, vm: str, disks: list[DiskRecord]
          ) -> tuple[list[DiskRecord], list[DiskRecord], str | None]:
    """(protected, excluded, problem): a LUN the plan excludes that the VM does not have is a
    problem (the plan is out of date), and nothing is excluded then."""
    try:
        luns = set(plan.vm(vm).disks.exclude_luns)
    except KeyError:
        luns = set()
    if not luns:
        return disks, [], None
    data = {d.lun for d in disks if d.role is DiskRole.DATA}
    missing = sorted(luns - data)
    if missing:
        have = ", ".join(str(lun) for lun in sorted(data)) or "none"
        return disks, [], (f"plan disks.exclude_luns names LUN {', '.join(map(str, missing))}, "
                           f"which VM {vm} does not have (its data disk LUNs: {have}); fix the "
                           "plan")
    excluded = [d for d in disks if d.role is DiskRole.DATA and d.lun in luns]
    return [d for d in disks if d not in excluded], excluded, None
