"""The VM size catalogue of a simulated region (real Azure sizes, real cores and memory).

Resize rule (learn.microsoft.com, "Resize a virtual machine"): a running VM can move only to the
sizes its current hardware cluster offers, which `vmSizes` lists; other sizes need the VM
deallocated first. armsim models a hardware cluster as one size family (B, Dsv5, Esv5); the
Dv5 sizes share the Dsv5 hardware.

`premium_io`: whether the size supports Premium storage (the "s" in Azure's size names;
learn.microsoft.com, "Sizes for virtual machines": Dv5 has no Premium storage, Dsv5 has). Premium
disks attach only to such sizes, and crash-consistent restore points need one ("Support matrix
for VM restore points": "Crash consistency is supported for VM SKUs that support Premium
storage").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VmSize:
    name: str
    family: str
    cores: int
    memory_mb: int
    max_data_disks: int
    resource_disk_mb: int = 0
    premium_io: bool = True

    def to_rest(self) -> dict:
        return {"name": self.name, "numberOfCores": self.cores, "osDiskSizeInMB": 1047552,
                "resourceDiskSizeInMB": self.resource_disk_mb, "memoryInMB": self.memory_mb,
                "maxDataDiskCount": self.max_data_disks}


CATALOGUE: dict[str, VmSize] = {s.name.lower(): s for s in [
    VmSize("Standard_B1s", "B", 1, 1024, 2, 4096),
    VmSize("Standard_B2s", "B", 2, 4096, 4, 8192),
    VmSize("Standard_B2ms", "B", 2, 8192, 4, 16384),
    VmSize("Standard_B4ms", "B", 4, 16384, 8, 32768),
    VmSize("Standard_D2_v5", "Dsv5", 2, 8192, 4, premium_io=False),
    VmSize("Standard_D4_v5", "Dsv5", 4, 16384, 8, premium_io=False),
    VmSize("Standard_D8_v5", "Dsv5", 8, 32768, 16, premium_io=False),
    VmSize("Standard_D2s_v5", "Dsv5", 2, 8192, 4),
    VmSize("Standard_D4s_v5", "Dsv5", 4, 16384, 8),
    VmSize("Standard_D8s_v5", "Dsv5", 8, 32768, 16),
    VmSize("Standard_D16s_v5", "Dsv5", 16, 65536, 32),
    VmSize("Standard_E2s_v5", "Esv5", 2, 16384, 4),
    VmSize("Standard_E4s_v5", "Esv5", 4, 32768, 8),
    VmSize("Standard_E8s_v5", "Esv5", 8, 65536, 16),
    VmSize("Standard_E16s_v5", "Esv5", 16, 131072, 32),
]}


def lookup(name: str) -> VmSize | None:
    return CATALOGUE.get(name.lower())
