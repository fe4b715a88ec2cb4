"""Estates: the YAML that declares what exists when armsim starts (see armsim/README.md).

Seeding builds resources directly (no operations, no storage calls), so a 1,000-VM estate
seeds in well under a second or two. `generate()` writes big estates for scale tests.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import yaml

from armsim import ids
from armsim.auth import Assignment, Principals
from armsim.compute import sizes, skus
from armsim.compute.gallery_models import GALLERY_TYPE, IMAGE_TYPE, Gallery, GalleryImage
from armsim.compute.models import DISK_TYPE, VM_TYPE, Disk, VirtualMachine
from armsim.errors import InvalidParameter
from armsim.network.models import NIC_TYPE, NetworkInterface
from armsim.registry import Region
from armsim.services import Services
from armsim.trafficmanager.models import PROFILE_TYPE

DEMO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
DEMO_TENANT = "00000000-0000-0000-0000-0000000000aa"


def load(path: str | Path) -> dict[str, Any]:
    """Read an estate file (YAML or JSON); `${subscription}` in strings is substituted."""
    path = Path(path)
    estate = parse(path.read_text())
    estate.setdefault("_base_dir", str(path.resolve().parent))
    return estate


def parse(text: str) -> dict[str, Any]:
    estate = yaml.safe_load(text) or {}
    if not isinstance(estate, dict):
        raise InvalidParameter("an estate is a YAML mapping")
    sub = str(estate.get("subscription") or DEMO_SUBSCRIPTION)
    if "${subscription}" in text:
        estate = yaml.safe_load(text.replace("${subscription}", sub))
    return estate


def principals(estate: dict[str, Any]) -> dict[str, tuple[list[Assignment], str | None]]:
    """The estate's principals, each with its role assignments (read and checked) and token:
    a missing role file or an ill-formed role is refused here, before anything is seeded."""
    base_dir = Path(estate["_base_dir"]) if estate.get("_base_dir") else None
    declared: dict[str, tuple[list[Assignment], str | None]] = {}
    for name, spec in (estate.get("principals") or {}).items():
        if not isinstance(spec, dict):
            raise InvalidParameter(f"The principal '{name}' is a mapping with 'role', "
                                   f"'role_file' or 'assignments', not {spec!r}.")
        granted = Principals.grants(
            str(name), spec.get("role_file") or spec.get("role"), scopes=spec.get("scopes"),
            assignments=spec.get("assignments"), base_dir=base_dir)
        declared[str(name)] = (granted, spec.get("token"))
    return declared


def seed(services: Services, estate: dict[str, Any]) -> dict[str, int]:
    """Add everything the estate declares to the registry (call under the registry lock)."""
    registry = services.registry
    declared = principals(estate)
    sub = str(estate.get("subscription") or DEMO_SUBSCRIPTION)
    tenant = str(estate.get("tenant") or DEMO_TENANT)
    registry.add_subscription(sub, tenant)
    for name, spec in (estate.get("regions") or {}).items():
        spec = spec or {}
        offered = spec.get("sizes")
        registry.regions[name.lower()] = Region(
            name.lower(), spec.get("disk_account") or spec.get("account") or "",
            {s.lower() for s in offered} if offered else None,
            tuple(str(z) for z in spec.get("zones") or ()))
        registry.storage._service(registry.regions[name.lower()].disk_account)  # validate
    for name, location in (estate.get("resource_groups") or {}).items():
        location = location.get("region") if isinstance(location, dict) else location
        registry.add_resource_group(sub, name, str(location).lower())
    for name, spec in (estate.get("storage_accounts") or {}).items():
        spec = spec or {}
        registry.storage_accounts[name] = {
            "id": ids.build(sub, spec.get("resource_group", "rg-storage"), "Microsoft.Storage",
                            "storageAccounts", name),
            "region": str(spec.get("region", "")).lower()}
    for subnet in estate.get("subnets") or []:
        registry.subnets[ids.key(subnet["id"])] = (subnet["id"], str(subnet["region"]).lower())
        if subnet.get("prefix"):
            registry.extra.setdefault("subnet_prefixes", {})[ids.key(subnet["id"])] = \
                str(subnet["prefix"])
    for name, (granted, token) in declared.items():
        registry.principals.add(name, token=token, granted=granted)
    for name, spec in (estate.get("apps") or {}).items():
        registry.apps[name.lower()] = [str(r) for r in (spec or {}).get("roles", [])]
    for spec in estate.get("disks") or []:
        _disk(services, sub, spec, spec["name"], spec.get("os_type"))
    # Scale sets before VMs: a VM may be a Flexible scale set's member (`scale_set:`).
    for spec in estate.get("scale_sets") or []:
        rg = spec["resource_group"]
        services.compute.create_scale_set(
            sub, rg, spec["name"], _region(services, sub, rg, spec),
            spec.get("size", "Standard_D2s_v5"), int(spec.get("capacity", 0)),
            spec.get("tags") or {}, str(spec.get("orchestration", "Uniform")))
    for spec in estate.get("vms") or []:
        _vm(services, sub, spec)
    for spec in estate.get("traffic_manager_profiles") or []:
        _profile(services, sub, spec)
    # After the VMs: a vault names the VMs it backs up.
    for spec in estate.get("recovery_services_vaults") or []:
        rg = spec["resource_group"]
        services.recoveryservices.seed_vault(sub, spec, _region(services, sub, rg, spec))
    for spec in estate.get("galleries") or []:
        _gallery(services, sub, spec)
    return registry.count()


def _gallery(services: Services, sub: str, spec: dict[str, Any]) -> None:
    """A gallery (and image definitions in it, without versions: those are captured)."""
    registry = services.registry
    rg = spec["resource_group"]
    location = _region(services, sub, rg, spec)
    gallery = Gallery(id=ids.build(sub, rg, "Microsoft.Compute", "galleries", spec["name"]),
                      name=spec["name"], type=GALLERY_TYPE, location=location, subscription=sub,
                      resource_group=rg, tags=dict(spec.get("tags") or {}),
                      time_created=registry.now(), description=spec.get("description", ""),
                      unique_name=f"{sub}-{spec['name'].upper()}")
    registry.add(gallery)
    for image in spec.get("images") or []:
        registry.add(GalleryImage(
            id=f"{gallery.id}/images/{image['name']}", name=image["name"], type=IMAGE_TYPE,
            location=location, subscription=sub, resource_group=rg,
            tags=dict(image.get("tags") or {}), time_created=registry.now(), gallery=gallery,
            os_type=image.get("os_type", "Linux"), os_state=image.get("os_state", "Specialized"),
            hyper_v_generation=image.get("hyper_v_generation", "V2"),
            identifier={"publisher": image.get("publisher", "vmdr"),
                        "offer": image.get("offer", gallery.name),
                        "sku": image.get("sku", image["name"])}))


def _region(services: Services, sub: str, rg: str, spec: dict[str, Any]) -> str:
    group = services.registry.resource_group(sub, rg)
    if group is None:
        raise InvalidParameter(f"estate: resource group '{rg}' is not declared")
    return str(spec.get("region") or group.location).lower()


def _zone(services: Services, spec: dict[str, Any], region: str, what: str) -> list[str] | None:
    """An estate resource's zone, which its region must have (as Azure would refuse it)."""
    if not spec.get("zone"):
        return None
    zone = str(spec["zone"])
    offered = services.registry.regions[region].zones if region in services.registry.regions \
        else ()
    if zone not in offered:
        raise InvalidParameter(f"estate: {what} is in zone '{zone}', but region '{region}' has "
                               f"{'zones ' + ', '.join(offered) if offered else 'no zones'} "
                               "(declare them: regions.<region>.zones)")
    return [zone]


def _disk(services: Services, sub: str, spec: dict[str, Any], name: str,
          os_type: str | None) -> Disk:
    registry = services.registry
    rg = spec["resource_group"]
    location = _region(services, sub, rg, spec)
    sku = skus.disk_sku(spec.get("sku"), target=f"estate: disk {name}: sku")
    zones = None if skus.zone_redundant(sku) else _zone(services, spec, location, f"disk {name}")
    disk = Disk(id=ids.build(sub, rg, "Microsoft.Compute", "disks", name), name=name,
                type=DISK_TYPE, location=location, subscription=sub,
                resource_group=rg, tags=dict(spec.get("tags") or {}),
                time_created=registry.now(), size_gb=int(spec.get("size_gb", 32)),
                sku=sku, os_type=os_type, unique_id=str(uuid.uuid4()),
                creation_data={"createOption": "Empty"}, zones=zones,
                max_shares=int(spec.get("max_shares", 1)),
                ephemeral=bool(spec.get("ephemeral", False)))
    registry.add(disk)
    return disk


def _vm(services: Services, sub: str, spec: dict[str, Any]) -> VirtualMachine:
    registry = services.registry
    name, rg = spec["name"], spec["resource_group"]
    location = _region(services, sub, rg, spec)
    vm_id = ids.build(sub, rg, "Microsoft.Compute", "virtualMachines", name)
    common = {"resource_group": rg, "region": location, "zone": spec.get("zone")}
    os_spec = spec.get("os_disk") or {}
    os_type = os_spec.get("os_type", "Linux")
    size = spec.get("size", "Standard_D2s_v5")
    found = sizes.lookup(size)
    if found is None:
        raise InvalidParameter(f"estate: VM {name}: unknown size '{size}'")
    zones = _zone(services, spec, location, f"VM {name}")
    if os_spec.get("vhd") or any(d.get("vhd") for d in spec.get("data_disks") or []):
        return _unmanaged_vm(services, sub, spec, vm_id, location, found.name, zones)
    os_disk = _disk(services, sub, {**common, **os_spec},
                    os_spec.get("name", f"{name}-osdisk"), os_type)
    if skus.data_disk_only(os_disk.sku):
        raise InvalidParameter(f"estate: VM {name}: a {os_disk.sku} disk cannot be an OS disk "
                               "(Ultra and Premium SSD v2 disks are data disks only)")
    data = [(d, _disk(services, sub, {**common, **d}, d.get("name", f"{name}-data{d['lun']}"),
                      None)) for d in spec.get("data_disks") or []]
    for disk in [os_disk, *[d for _, d in data]]:
        if skus.needs_premium_io(disk.sku) and not found.premium_io:
            raise InvalidParameter(f"estate: VM {name}: size {found.name} has no Premium storage "
                                   f"for disk {disk.name} ({disk.sku})")
    vm = VirtualMachine(
        id=vm_id, name=name, type=VM_TYPE, location=location, subscription=sub,
        resource_group=rg, tags=dict(spec.get("tags") or {}), time_created=registry.now(),
        size=found.name,
        os_disk={"osType": os_type, "name": os_disk.name, "createOption": "Attach",
                 "caching": "ReadOnly" if os_disk.ephemeral else "ReadWrite",
                 "diskSizeGB": os_disk.size_gb,
                 "managedDisk": {"id": os_disk.id, "storageAccountType": os_disk.sku},
                 "deleteOption": "Delete" if os_disk.ephemeral else "Detach",
                 **({"diffDiskSettings": {"option": "Local", "placement": "CacheDisk"}}
                    if os_disk.ephemeral else {})},
        data_disks=[{"lun": int(d["lun"]), "name": disk.name, "createOption": "Attach",
                     "caching": d.get("caching", "None"), "diskSizeGB": disk.size_gb,
                     "managedDisk": {"id": disk.id, "storageAccountType": disk.sku},
                     "deleteOption": "Detach"} for d, disk in data],
        power_state=spec.get("power_state", "running"), vm_id=str(uuid.uuid4()),
        zones=zones)
    for disk in [os_disk, *[d for _, d in data]]:
        disk.managed_by = vm_id
    return _add_vm(services, sub, spec, vm)


def _unmanaged_vm(services: Services, sub: str, spec: dict[str, Any], vm_id: str,
                  location: str, size: str, zones: list[str] | None) -> VirtualMachine:
    """A VM whose disks are VHDs in storage accounts, shown as Azure shows them:
    `storageProfile.osDisk.vhd.uri` and no `managedDisk` (azure-rest-api-specs ComputeRP,
    `VirtualHardDisk`). Every disk of such a VM is unmanaged (Azure does not mix them)."""
    name = spec["name"]
    os_spec = spec.get("os_disk") or {}
    disks = [os_spec, *(spec.get("data_disks") or [])]
    missing = [str(d.get("lun", "os")) for d in disks if not d.get("vhd")]
    if missing:
        raise InvalidParameter(f"estate: VM {name}: its disks are all VHDs (vhd: URI) or all "
                               f"managed; disk(s) {', '.join(missing)} have no vhd")
    os_disk = {"osType": os_spec.get("os_type", "Linux"),
               "name": os_spec.get("name", f"{name}-osdisk"),
               "createOption": "FromImage" if spec.get("image") else "Attach",
               "vhd": {"uri": str(os_spec["vhd"])}, "caching": "ReadWrite",
               "diskSizeGB": int(os_spec.get("size_gb", 32))}
    data = [{"lun": int(d["lun"]), "name": d.get("name", f"{name}-data{d['lun']}"),
             "createOption": "Attach", "vhd": {"uri": str(d["vhd"])},
             "caching": d.get("caching", "None"), "diskSizeGB": int(d.get("size_gb", 32))}
            for d in spec.get("data_disks") or []]
    vm = VirtualMachine(
        id=vm_id, name=name, type=VM_TYPE, location=location, subscription=sub,
        resource_group=spec["resource_group"], tags=dict(spec.get("tags") or {}),
        time_created=services.registry.now(), size=size, os_disk=os_disk, data_disks=data,
        power_state=spec.get("power_state", "running"), vm_id=str(uuid.uuid4()), zones=zones)
    return _add_vm(services, sub, spec, vm)


def _add_vm(services: Services, sub: str, spec: dict[str, Any],
            vm: VirtualMachine) -> VirtualMachine:
    """NICs, image, scale set membership; then the VM is in the registry."""
    registry = services.registry
    name, rg, location, vm_id = vm.name, vm.resource_group, vm.location, vm.id
    if spec.get("image"):
        image = spec["image"]
        vm.image_reference = {k: str(image[k]) for k in ("publisher", "offer", "sku")
                              if image.get(k)}
        vm.image_reference["version"] = str(image.get("version", "latest"))
    if spec.get("scale_set"):
        vmss = registry.get(ids.build(sub, rg, "Microsoft.Compute", "virtualMachineScaleSets",
                                      spec["scale_set"]))
        if vmss is None or not getattr(vmss, "flexible", False):
            raise InvalidParameter(f"estate: VM {name}: scale_set {spec['scale_set']!r} is not "
                                   f"a Flexible scale set of {rg} (declare it with "
                                   "orchestration: Flexible)")
        vm.scale_set_id = vmss.id
    nics = []
    for index, nic_spec in enumerate(spec.get("nics") or [{}]):
        nic_name = nic_spec.get("name", f"{name}-nic" if index == 0 else f"{name}-nic{index}")
        body = {"location": location, "properties": {"ipConfigurations": [{
            "name": "ipconfig1", "properties": {
                "subnet": {"id": nic_spec.get("subnet", "")},
                "privateIPAddress": nic_spec.get("private_ip"),
                "privateIPAllocationMethod": "Static" if nic_spec.get("private_ip")
                else "Dynamic"}}]}}
        nic_rg = nic_spec.get("resource_group", rg)
        parsed = services.network._ip_configuration(
            ids.build(sub, nic_rg, "Microsoft.Network", "networkInterfaces", nic_name),
            location, 0, body["properties"]["ipConfigurations"][0])
        nic = NetworkInterface(
            id=ids.build(sub, nic_rg, "Microsoft.Network", "networkInterfaces", nic_name),
            name=nic_name, type=NIC_TYPE, location=location, subscription=sub,
            resource_group=nic_rg, time_created=registry.now(), ip_configurations=[parsed],
            virtual_machine=vm_id)
        registry.add(nic)
        services.network._claim_ips(nic)
        nics.append(nic)
    vm.nics = [{"id": n.id, "properties": {"primary": i == 0}} for i, n in enumerate(nics)]
    registry.add(vm)
    services.compute.retag(vm, {})
    return vm


def _profile(services: Services, sub: str, spec: dict[str, Any]) -> None:
    body = {"location": "global", "tags": spec.get("tags") or {}, "properties": {
        "profileStatus": spec.get("status", "Enabled"),
        "trafficRoutingMethod": spec.get("routing", "Priority"),
        "dnsConfig": {"relativeName": spec.get("relative_name", spec["name"]),
                      "ttl": int(spec.get("ttl", 60))},
        "monitorConfig": spec.get("monitor") or {},
        "endpoints": []}}
    for endpoint in spec.get("endpoints") or []:
        props = {"endpointStatus": endpoint.get("status", "Enabled"),
                 "priority": endpoint.get("priority"), "target": endpoint.get("target"),
                 "targetResourceId": endpoint.get("target_resource_id"),
                 "endpointLocation": endpoint.get("location"), "weight": endpoint.get("weight")}
        body["properties"]["endpoints"].append({
            "name": endpoint["name"],
            "type": f"{PROFILE_TYPE}/{endpoint.get('type', 'externalEndpoints')}",
            "properties": {k: v for k, v in props.items() if v is not None}})
    _, profile = services.trafficmanager.put_profile(sub, spec["resource_group"], spec["name"],
                                                     body)
    for endpoint in spec.get("endpoints") or []:
        health = endpoint.get("health")
        if health:
            key = ids.key(f"{profile.id}/{endpoint.get('type', 'externalEndpoints')}/"
                          f"{endpoint['name']}")
            services.registry.endpoint_health[key] = {k: str(v) for k, v in health.items()}
    # The estate is the world as it is when armsim starts: its endpoints have been probed for
    # long (Online or Degraded by their health now), not just added (CheckingEndpoint).
    services.trafficmanager.settle(profile)


def generate(n_vms: int, *, data_disks: int = 1, subscription: str = DEMO_SUBSCRIPTION,
             region: str = "westeurope", secondary: str = "northeurope",
             disk_accounts: tuple[str, str] = ("weudisks", "neudisks"),
             vms_per_group: int = 100, app: str = "bulk", roles: tuple[str, ...] = ("app",),
             size: str = "Standard_D2s_v5", disk_size_gb: int = 32) -> dict[str, Any]:
    """An estate of `n_vms` running VMs (OS disk, `data_disks` data disks, one NIC with a static
    IP each), spread over resource groups of `vms_per_group`, plus an empty secondary region."""
    groups = max(1, -(-n_vms // vms_per_group))
    subnet = (f"/subscriptions/{subscription}/resourceGroups/rg-net-{region}/providers/"
              f"Microsoft.Network/virtualNetworks/vnet-{region}/subnets/app")
    subnet2 = (f"/subscriptions/{subscription}/resourceGroups/rg-net-{secondary}/providers/"
               f"Microsoft.Network/virtualNetworks/vnet-{secondary}/subnets/app")
    estate: dict[str, Any] = {
        "subscription": subscription, "tenant": DEMO_TENANT,
        "regions": {region: {"disk_account": disk_accounts[0]},
                    secondary: {"disk_account": disk_accounts[1]}},
        "resource_groups": {**{f"rg-bulk-{g:03d}": region for g in range(groups)},
                            f"rg-bulk-{secondary}": secondary,
                            f"rg-net-{region}": region, f"rg-net-{secondary}": secondary},
        "subnets": [{"id": subnet, "region": region}, {"id": subnet2, "region": secondary}],
        "principals": {"owner": {"role": "*"}},
        "apps": {app: {"roles": list(roles)}},
        "vms": [],
    }
    for index in range(n_vms):
        host = 4 + index
        estate["vms"].append({
            "name": f"vm-{index:04d}", "resource_group": f"rg-bulk-{index // vms_per_group:03d}",
            "size": size, "tags": {"app": app, "role": roles[index % len(roles)]},
            "os_disk": {"size_gb": disk_size_gb, "os_type": "Linux"},
            "data_disks": [{"lun": lun, "size_gb": disk_size_gb} for lun in range(data_disks)],
            "nics": [{"subnet": subnet,
                      "private_ip": f"10.{(host >> 16) & 255}.{(host >> 8) & 255}.{host & 255}"}],
        })
    return estate
