"""The latency profile: how long each simulated operation takes (virtual seconds)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from armsim.errors import InvalidParameter


@dataclass
class LatencyProfile:
    """Simulated durations (virtual seconds) of each operation; close to Azure by default."""

    vm_create: float = 60.0
    # After a VM's creation succeeds, how long it still shows PowerState/starting (Azure's power
    # state is "the last known state", and is Starting while the VM powers up): 0 = running at
    # once, as it usually is by the time the creation answers Succeeded.
    vm_boot: float = 0.0
    vm_update: float = 30.0
    vm_resize: float = 60.0
    vm_start: float = 45.0
    vm_deallocate: float = 60.0
    vm_power_off: float = 30.0
    vm_restart: float = 45.0
    vm_delete: float = 45.0
    disk_empty: float = 5.0
    disk_copy: float = 20.0  # disk from a snapshot
    disk_restore: float = 20.0  # disk from a disk restore point
    disk_import: float = 30.0
    disk_delete: float = 5.0
    snapshot_create: float = 10.0
    snapshot_delete: float = 5.0
    grant_access: float = 5.0
    revoke_access: float = 5.0
    copy_start_base: float = 30.0  # fixed part of a CopyStart / restore point copy
    copy_mbps: float = 100.0  # simulated MB/s of simulated bytes copied across regions
    # Premium SSD v2 / Ultra: a snapshot's background copy from its disk, and a disk's from
    # such a snapshot (base + bytes / MB/s, like copies)
    background_copy_base: float = 120.0
    background_copy_mbps: float = 100.0
    restore_point_create: float = 30.0
    restore_point_delete: float = 10.0
    nic_create: float = 5.0
    guest_ready: float = 90.0  # a VM's guest agent reports Ready this long after it runs
    run_command: float = 30.0  # a Run Command script, once the agent is ready
    nic_delete: float = 5.0
    scale_set_update: float = 10.0
    scale_set_instance: float = 60.0
    # Azure Compute Gallery: a gallery or image definition PUT; an image version's capture in
    # its source region, then each other target region's replica (base + bytes / copy_mbps)
    gallery_write: float = 5.0
    image_capture: float = 120.0
    image_replication_base: float = 300.0
    image_version_delete: float = 30.0
    # Which LRO headers to send: "azure" (what each Azure operation sends), or force one style:
    # "azure-async-operation" (Azure-AsyncOperation only) or "location" (Location only).
    lro_headers: str = "azure"
    # Cap of the retry-after-ms hint in real milliseconds (polls at least this often).
    max_poll_hint_ms: int = 10_000
    # Extra real latency added to every ARM request, in milliseconds.
    request_latency_ms: float = 0.0

    # --- durations that depend on the request: one place, used by armsim's models and by the
    # benchmarks' bounds (bench/bounds.py), so a bound never has a second copy of the model.

    def copy_seconds(self, simulated_bytes: float) -> float:
        """A cross-region copy (CopyStart, restore point copy) of this many simulated bytes."""
        return self.copy_start_base + simulated_bytes / (self.copy_mbps * 1e6)

    def image_replication_seconds(self, simulated_bytes: float) -> float:
        """An image version's replica in a target region other than its source region."""
        return self.image_replication_base + simulated_bytes / (self.copy_mbps * 1e6)

    def background_copy_seconds(self, simulated_bytes: float) -> float:
        """A Premium SSD v2 / Ultra snapshot's (or disk's) background fill."""
        return self.background_copy_base + simulated_bytes / (self.background_copy_mbps * 1e6)

    def vm_update_seconds(self, allocated: bool, size_changes: bool) -> float:
        """A VM PUT/PATCH: a resize of an allocated VM restarts it (vm_resize); a deallocated
        VM's resize is a plain update."""
        return self.vm_resize if (size_changes and allocated) else self.vm_update

    def scale_set_seconds(self, scale_out: bool, scale_in: bool) -> float:
        """A scale set PATCH: the update, or new instances / deletions if longer."""
        duration = self.scale_set_update
        if scale_out:
            duration = max(duration, self.scale_set_instance)
        if scale_in:
            duration = max(duration, self.vm_delete)
        return duration

    def disk_create_seconds(self, create_option: str) -> float:
        return {"empty": self.disk_empty, "copy": self.disk_copy, "restore": self.disk_restore,
                "import": self.disk_import}[create_option.lower()]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, values: dict[str, Any]) -> None:
        known = self.to_dict()
        for name, value in values.items():
            if name not in known:
                raise InvalidParameter(f"unknown latency setting {name!r}; known: {sorted(known)}")
            setattr(self, name, type(known[name])(value))
        if self.lro_headers not in ("azure", "azure-async-operation", "location"):
            raise InvalidParameter("lro_headers must be azure, azure-async-operation or location")
