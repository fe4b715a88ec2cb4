"""Traffic Manager profiles and endpoints: state, rules, and what DNS answers now."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from armsim import ids
from armsim.apps import app_health
from armsim.errors import InvalidParameter, NotFound, ResourceGroupNotFound, ResourceNotFound
from armsim.registry import Registry, Resource
from armsim.trafficmanager.errors import EndpointPriorityInUse

PROFILE_TYPE = "Microsoft.Network/trafficManagerProfiles"
ENDPOINT_TYPES = {"azureendpoints": "azureEndpoints", "externalendpoints": "externalEndpoints",
                  "nestedendpoints": "nestedEndpoints"}


@dataclass
class Endpoint:
    name: str
    kind: str  # azureEndpoints | externalEndpoints | nestedEndpoints
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Profile(Resource):
    properties: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # lower name -> endpoint

    def endpoint_id(self, endpoint: Endpoint) -> str:
        return f"{self.id}/{endpoint.kind}/{endpoint.name}"

    def monitor_status(self, registry: Registry, endpoint: Endpoint) -> str:
        if (self.properties.get("profileStatus") or "Enabled").lower() == "disabled":
            return "Disabled"
        if (endpoint.properties.get("endpointStatus") or "Enabled").lower() == "disabled":
            return "Disabled"
        source = registry.endpoint_health.get(ids.key(self.endpoint_id(endpoint)))
        if source and source.get("status"):
            return source["status"]
        if source and source.get("app"):
            healthy, _ = app_health(registry, source["app"], source["region"])
            return "Online" if healthy else "Degraded"
        return "Online"

    def endpoint_rest(self, registry: Registry, endpoint: Endpoint) -> dict[str, Any]:
        props = dict(endpoint.properties)
        props.setdefault("endpointStatus", "Enabled")
        props["endpointMonitorStatus"] = self.monitor_status(registry, endpoint)
        return {"id": self.endpoint_id(endpoint), "name": endpoint.name,
                "type": f"{PROFILE_TYPE}/{endpoint.kind}", "properties": props}

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        props = dict(self.properties)
        endpoints = [self.endpoint_rest(registry, e) for e in self.endpoints.values()]
        statuses = {e["properties"]["endpointMonitorStatus"] for e in endpoints}
        monitor = dict(props.get("monitorConfig") or {})
        if (props.get("profileStatus") or "Enabled").lower() == "disabled":
            monitor["profileMonitorStatus"] = "Disabled"
        elif "Online" in statuses:
            monitor["profileMonitorStatus"] = "Online"
        elif statuses - {"Disabled"}:
            monitor["profileMonitorStatus"] = "Degraded"
        else:
            monitor["profileMonitorStatus"] = "Inactive"
        props["monitorConfig"] = monitor
        props["endpoints"] = endpoints
        return {"id": self.id, "name": self.name, "type": PROFILE_TYPE, "location": "global",
                "tags": dict(self.tags), "properties": props}


class TrafficManagerBackend:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _profile_id(self, sub: str, rg: str, name: str) -> str:
        return ids.build(sub, rg, "Microsoft.Network", "trafficManagerProfiles", name)

    def get_profile(self, sub: str, rg: str, name: str) -> Profile:
        profile = self.registry.get(self._profile_id(sub, rg, name))
        if not isinstance(profile, Profile):
            raise ResourceNotFound.of(PROFILE_TYPE, name, rg)
        return profile

    def list_profiles(self, sub: str, rg: str | None) -> list[Profile]:
        found = (self.registry.in_resource_group(sub, rg, PROFILE_TYPE) if rg
                 else self.registry.in_subscription(sub, PROFILE_TYPE))
        return [p for p in found if isinstance(p, Profile)]

    def put_profile(self, sub: str, rg: str, name: str,
                    body: dict[str, Any]) -> tuple[int, Profile]:
        if self.registry.resource_group(sub, rg) is None:
            raise ResourceGroupNotFound(f"Resource group '{rg}' could not be found.")
        props = dict(body.get("properties") or {})
        endpoints_in = props.pop("endpoints", None) or []
        existing = self.registry.get(self._profile_id(sub, rg, name))
        profile = existing if isinstance(existing, Profile) else Profile(
            id=self._profile_id(sub, rg, name), name=name, type=PROFILE_TYPE,
            location="global", subscription=sub, resource_group=rg)
        status = 200 if isinstance(existing, Profile) else 201
        new_endpoints = {}
        for entry in endpoints_in:
            endpoint = self._endpoint_from(entry.get("type", ""), entry.get("name", ""), entry)
            new_endpoints[endpoint.name.lower()] = endpoint
        self._check_priorities(list(new_endpoints.values()))
        profile.properties = self._profile_properties(props, name)
        profile.tags = dict(body.get("tags") or {})
        profile.endpoints = new_endpoints
        if status == 201:
            self.registry.add(profile)
        return status, profile

    def patch_profile(self, sub: str, rg: str, name: str, body: dict[str, Any]) -> Profile:
        profile = self.get_profile(sub, rg, name)
        props = dict(body.get("properties") or {})
        endpoints_in = props.pop("endpoints", None)
        merged = dict(profile.properties)
        for key, value in props.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            elif value is not None:
                merged[key] = value
        profile.properties = self._profile_properties(merged, name)
        if endpoints_in is not None:
            new = {}
            for entry in endpoints_in:
                endpoint = self._endpoint_from(entry.get("type", ""), entry.get("name", ""), entry)
                new[endpoint.name.lower()] = endpoint
            self._check_priorities(list(new.values()))
            profile.endpoints = new
        if "tags" in body:
            profile.tags = dict(body.get("tags") or {})
        return profile

    def delete_profile(self, sub: str, rg: str, name: str) -> bool:
        profile = self.registry.get(self._profile_id(sub, rg, name))
        if not isinstance(profile, Profile):
            return False
        self.registry.remove(profile)
        return True

    @staticmethod
    def _profile_properties(props: dict[str, Any], name: str) -> dict[str, Any]:
        props = {k: v for k, v in props.items() if v is not None}
        props.setdefault("profileStatus", "Enabled")
        props.setdefault("trafficRoutingMethod", "Priority")
        dns = dict(props.get("dnsConfig") or {})
        dns.setdefault("relativeName", name)
        dns.setdefault("ttl", 60)
        dns["fqdn"] = f"{dns['relativeName']}.trafficmanager.net"
        props["dnsConfig"] = dns
        monitor = dict(props.get("monitorConfig") or {})
        for key, value in (("protocol", "HTTPS"), ("port", 443), ("path", "/"),
                           ("intervalInSeconds", 30), ("timeoutInSeconds", 10),
                           ("toleratedNumberOfFailures", 3)):
            monitor.setdefault(key, value)
        monitor.pop("profileMonitorStatus", None)
        props["monitorConfig"] = monitor
        return props

    @staticmethod
    def _endpoint_from(kind: str, name: str, entry: dict[str, Any]) -> Endpoint:
        short = kind.rsplit("/", 1)[-1].lower()
        if short not in ENDPOINT_TYPES:
            raise InvalidParameter(f"Endpoint type '{kind}' is not supported.", target="type")
        if not name:
            raise InvalidParameter("Endpoint name is required.", target="name")
        props = {k: v for k, v in (entry.get("properties") or {}).items() if v is not None}
        props.pop("endpointMonitorStatus", None)
        props.setdefault("endpointStatus", "Enabled")
        priority = props.get("priority")
        if priority is not None and not 1 <= int(priority) <= 1000:
            raise InvalidParameter("Endpoint priority must be between 1 and 1000.",
                                   target="priority")
        return Endpoint(name=name, kind=ENDPOINT_TYPES[short], properties=props)

    @staticmethod
    def _check_priorities(endpoints: list[Endpoint]) -> None:
        seen: dict[int, str] = {}
        for endpoint in endpoints:
            priority = endpoint.properties.get("priority")
            if priority is None:
                continue
            other = seen.get(int(priority))
            if other is not None:
                raise EndpointPriorityInUse(
                    f"Endpoints '{other}' and '{endpoint.name}' both have priority {priority}. "
                    "Priority values must be unique within a Traffic Manager profile.",
                    target="priority")
            seen[int(priority)] = endpoint.name

    # ------------------------------------------------------------------------------ endpoints
    def get_endpoint(self, sub: str, rg: str, profile_name: str, kind: str,
                     name: str) -> tuple[Profile, Endpoint]:
        profile = self.get_profile(sub, rg, profile_name)
        endpoint = profile.endpoints.get(name.lower())
        if endpoint is None or endpoint.kind.lower() != kind.lower():
            raise NotFound(f"The endpoint '{name}' of type '{kind}' does not exist in profile "
                           f"'{profile_name}'.")
        return profile, endpoint

    def put_endpoint(self, sub: str, rg: str, profile_name: str, kind: str, name: str,
                     body: dict[str, Any]) -> tuple[int, Profile, Endpoint]:
        profile = self.get_profile(sub, rg, profile_name)
        endpoint = self._endpoint_from(kind, name, body)
        existed = name.lower() in profile.endpoints
        others = [e for k, e in profile.endpoints.items() if k != name.lower()]
        self._check_priorities([*others, endpoint])
        profile.endpoints[name.lower()] = endpoint
        return (200 if existed else 201), profile, endpoint

    def patch_endpoint(self, sub: str, rg: str, profile_name: str, kind: str, name: str,
                       body: dict[str, Any]) -> tuple[Profile, Endpoint]:
        profile, endpoint = self.get_endpoint(sub, rg, profile_name, kind, name)
        props = {k: v for k, v in (body.get("properties") or {}).items() if v is not None}
        props.pop("endpointMonitorStatus", None)
        merged = Endpoint(endpoint.name, endpoint.kind, {**endpoint.properties, **props})
        priority = merged.properties.get("priority")
        if priority is not None and not 1 <= int(priority) <= 1000:
            raise InvalidParameter("Endpoint priority must be between 1 and 1000.",
                                   target="priority")
        others = [e for k, e in profile.endpoints.items() if k != name.lower()]
        self._check_priorities([*others, merged])
        endpoint.properties = merged.properties
        return profile, endpoint

    def delete_endpoint(self, sub: str, rg: str, profile_name: str, kind: str,
                        name: str) -> bool:
        profile = self.get_profile(sub, rg, profile_name)
        endpoint = profile.endpoints.get(name.lower())
        if endpoint is None or endpoint.kind.lower() != kind.lower():
            return False
        del profile.endpoints[name.lower()]
        return True

    # ------------------------------------------------------------------------------ DNS
    def dns_answer(self, sub: str, rg: str, profile_name: str) -> dict[str, Any]:
        """What Traffic Manager's DNS answers now for the profile.

        Priority routing: the enabled endpoint with the lowest priority number that is not
        Degraded; if every enabled endpoint is degraded, all of them (Azure returns all when all
        are degraded). Other routing methods: every enabled, non-degraded endpoint.
        """
        profile = self.get_profile(sub, rg, profile_name)
        dns = profile.properties["dnsConfig"]
        entries = [(e, profile.monitor_status(self.registry, e))
                   for e in profile.endpoints.values()]
        enabled = [(e, s) for e, s in entries if s != "Disabled"]
        healthy = [(e, s) for e, s in enabled if s not in ("Degraded", "Stopped", "Inactive")]
        method = profile.properties.get("trafficRoutingMethod", "Priority")
        chosen = healthy or enabled
        if method.lower() == "priority" and healthy:
            chosen = [min(healthy, key=lambda pair: int(pair[0].properties.get("priority")
                                                            or 1000))]
        return {
            "profile": profile.id, "fqdn": dns["fqdn"], "ttl": dns["ttl"],
            "routing": method,
            "all_degraded": bool(enabled) and not healthy,
            "answers": [{"endpoint": e.name, "type": e.kind,
                         "target": e.properties.get("target") or
                         e.properties.get("targetResourceId"),
                         "priority": e.properties.get("priority"), "monitor_status": s}
                        for e, s in chosen],
            "endpoints": [{"endpoint": e.name, "endpoint_status":
                           e.properties.get("endpointStatus", "Enabled"), "monitor_status": s,
                           "priority": e.properties.get("priority")} for e, s in entries],
        }
