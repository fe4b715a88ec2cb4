"""Traffic Manager profiles and endpoints: state, rules, monitoring, and what DNS answers now.

Monitor statuses follow learn.microsoft.com, "Traffic Manager endpoint monitoring" (tables
"Endpoint monitor status" and "Profile monitor status"); probing runs in simulated time
(monitoring.py). DNS answers follow "Traffic Manager routing methods" (priority: the first
healthy endpoint; when all are degraded, all enabled ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from armsim import ids
from armsim.apps import app_health
from armsim.errors import InvalidParameter, NotFound, ResourceGroupNotFound, ResourceNotFound
from armsim.registry import Registry, Resource
from armsim.trafficmanager.errors import EndpointPriorityInUse
from armsim.trafficmanager.monitoring import (
    CHECKING,
    DEGRADED,
    Monitor,
    monitor_settings,
    with_defaults,
)

PROFILE_TYPE = "Microsoft.Network/trafficManagerProfiles"
ENDPOINT_TYPES = {"azureendpoints": "azureEndpoints", "externalendpoints": "externalEndpoints",
                  "nestedendpoints": "nestedEndpoints"}
NOT_ANSWERED = ("Degraded", "Stopped", "Inactive", "Disabled")
HISTORY = 50  # DNS answer changes kept per profile


@dataclass
class Endpoint:
    name: str
    kind: str  # azureEndpoints | externalEndpoints | nestedEndpoints
    properties: dict[str, Any] = field(default_factory=dict)
    monitor: Monitor | None = None  # None while it is not probed (disabled)

    @property
    def enabled(self) -> bool:
        return (self.properties.get("endpointStatus") or "Enabled").lower() == "enabled"


@dataclass(eq=False)
class Profile(Resource):
    properties: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # lower name -> endpoint
    # (when, endpoint names answered) each time what DNS answers changed
    answer_history: list[tuple[datetime, tuple[str, ...]]] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return (self.properties.get("profileStatus") or "Enabled").lower() != "disabled"

    def endpoint_id(self, endpoint: Endpoint) -> str:
        return f"{self.id}/{endpoint.kind}/{endpoint.name}"

    def health_source(self, registry: Registry, endpoint: Endpoint) -> dict[str, str] | None:
        return registry.endpoint_health.get(ids.key(self.endpoint_id(endpoint)))

    def probe_succeeds(self, registry: Registry, endpoint: Endpoint) -> bool:
        """What a probe of the endpoint finds right now."""
        source = self.health_source(registry, endpoint)
        if source and source.get("status"):
            return source["status"].lower() == "online"
        if source and source.get("app"):
            return app_health(registry, source["app"], source["region"])[0]
        return True

    def monitor_status(self, registry: Registry, endpoint: Endpoint) -> str:
        if not self.enabled:
            return "Inactive"  # "Endpoints in disabled profiles are not monitored"
        if not endpoint.enabled:
            return "Disabled"
        source = self.health_source(registry, endpoint)
        pinned = (source or {}).get("status", "")
        if pinned and pinned.lower() not in ("online", "degraded"):
            return pinned  # e.g. Stopped: not probed, shown as set
        return endpoint.monitor.status if endpoint.monitor else CHECKING

    def profile_monitor_status(self, statuses: list[str]) -> str:
        if not self.enabled or not statuses:
            return "Disabled" if not self.enabled else "Inactive"
        if DEGRADED in statuses:
            return "Degraded"
        if "Online" in statuses:
            return "Online"
        if CHECKING in statuses:
            return "CheckingEndpoints"
        return "Inactive"

    def endpoint_rest(self, registry: Registry, endpoint: Endpoint) -> dict[str, Any]:
        props = dict(endpoint.properties)
        props.setdefault("endpointStatus", "Enabled")
        props["endpointMonitorStatus"] = self.monitor_status(registry, endpoint)
        return {"id": self.endpoint_id(endpoint), "name": endpoint.name,
                "type": f"{PROFILE_TYPE}/{endpoint.kind}", "properties": props}

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        props = dict(self.properties)
        endpoints = [self.endpoint_rest(registry, e) for e in self.endpoints.values()]
        monitor = dict(props.get("monitorConfig") or {})
        monitor["profileMonitorStatus"] = self.profile_monitor_status(
            [e["properties"]["endpointMonitorStatus"] for e in endpoints])
        props["monitorConfig"] = monitor
        props["endpoints"] = endpoints
        return {"id": self.id, "name": self.name, "type": PROFILE_TYPE, "location": "global",
                "tags": dict(self.tags), "properties": props}

    def answered(self, registry: Registry) -> list[tuple[Endpoint, str]]:
        """The endpoints DNS answers with now, and their monitor status.

        A disabled profile answers NXDOMAIN (nothing). Priority routing: the enabled endpoint
        with the lowest priority number that is not Degraded (CheckingEndpoint counts as
        answered); if every enabled endpoint is degraded, all of them ("if all endpoints are
        degraded, ... all of them are considered to be returned"). Other routing methods:
        every answered endpoint."""
        if not self.enabled:
            return []
        entries = [(e, self.monitor_status(registry, e)) for e in self.endpoints.values()]
        enabled = [(e, s) for e, s in entries if s != "Disabled"]
        healthy = [(e, s) for e, s in enabled if s not in NOT_ANSWERED]
        method = self.properties.get("trafficRoutingMethod", "Priority")
        if method.lower() == "priority" and healthy:
            return [min(healthy, key=lambda pair: int(pair[0].properties.get("priority")
                                                      or 1000))]
        return healthy or enabled

    def record_answer(self, registry: Registry, at: datetime) -> None:
        names = tuple(e.name for e, _ in self.answered(registry))
        if not self.answer_history or self.answer_history[-1][1] != names:
            self.answer_history.append((at, names))
            del self.answer_history[:-HISTORY]


class TrafficManagerBackend:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        registry.tickers.append(self.tick)

    def _profile_id(self, sub: str, rg: str, name: str) -> str:
        return ids.build(sub, rg, "Microsoft.Network", "trafficManagerProfiles", name)

    @property
    def _profiles(self) -> dict[str, Profile]:
        """Every profile (probing visits them all)."""
        return self.registry.extra.setdefault("tm_profiles", {})

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
        properties = self._profile_properties(props, name)
        was = self._probing_state(profile)
        profile.properties = properties
        profile.tags = dict(body.get("tags") or {})
        for key, endpoint in new_endpoints.items():
            old = profile.endpoints.get(key)
            endpoint.monitor = old.monitor if old is not None else None
        profile.endpoints = new_endpoints
        if status == 201:
            self.registry.add(profile)
            self._profiles[profile.key] = profile
        self._after_change(profile, was)
        return status, profile

    def patch_profile(self, sub: str, rg: str, name: str, body: dict[str, Any]) -> Profile:
        profile = self.get_profile(sub, rg, name)
        props = dict(body.get("properties") or {})
        endpoints_in = props.pop("endpoints", None)
        merged = dict(profile.properties)
        patch_monitor = props.get("monitorConfig") or {}
        if patch_monitor.get("intervalInSeconds") and not patch_monitor.get("timeoutInSeconds"):
            # a new interval without a timeout takes that interval's default timeout (armsim's
            # choice: the old one may be out of the new interval's bounds)
            merged["monitorConfig"] = {k: v for k, v in (merged.get("monitorConfig") or {})
                                       .items() if k != "timeoutInSeconds"}
        for key, value in props.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            elif value is not None:
                merged[key] = value
        properties = self._profile_properties(merged, name)
        new = None
        if endpoints_in is not None:
            new = {}
            for entry in endpoints_in:
                endpoint = self._endpoint_from(entry.get("type", ""), entry.get("name", ""), entry)
                old = profile.endpoints.get(endpoint.name.lower())
                endpoint.monitor = old.monitor if old is not None else None
                new[endpoint.name.lower()] = endpoint
            self._check_priorities(list(new.values()))
        was = self._probing_state(profile)
        profile.properties = properties
        if new is not None:
            profile.endpoints = new
        if "tags" in body:
            profile.tags = dict(body.get("tags") or {})
        self._after_change(profile, was)
        return profile

    def delete_profile(self, sub: str, rg: str, name: str) -> bool:
        profile = self.registry.get(self._profile_id(sub, rg, name))
        if not isinstance(profile, Profile):
            return False
        self.registry.remove(profile)
        self._profiles.pop(profile.key, None)
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
        monitor = with_defaults({k: v for k, v in (props.get("monitorConfig") or {}).items()
                                 if v is not None})
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
        old = profile.endpoints.get(name.lower())
        others = [e for k, e in profile.endpoints.items() if k != name.lower()]
        self._check_priorities([*others, endpoint])
        was = self._probing_state(profile)
        endpoint.monitor = old.monitor if old is not None else None
        profile.endpoints[name.lower()] = endpoint
        self._after_change(profile, was)
        return (200 if old is not None else 201), profile, endpoint

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
        was = self._probing_state(profile)
        endpoint.properties = merged.properties
        self._after_change(profile, was)
        return profile, endpoint

    def delete_endpoint(self, sub: str, rg: str, profile_name: str, kind: str,
                        name: str) -> bool:
        profile = self.get_profile(sub, rg, profile_name)
        endpoint = profile.endpoints.get(name.lower())
        if endpoint is None or endpoint.kind.lower() != kind.lower():
            return False
        del profile.endpoints[name.lower()]
        profile.record_answer(self.registry, self.registry.now())
        return True

    # ------------------------------------------------------------------------------ probing
    @staticmethod
    def _probing_state(profile: Profile) -> tuple[bool, tuple[int, int]]:
        return profile.enabled, monitor_settings(profile.properties.get("monitorConfig") or {})

    def _after_change(self, profile: Profile, was: tuple[bool, tuple[int, int]]) -> None:
        """Start probing what was just added or enabled (CheckingEndpoint), stop probing what
        was disabled, move the probe schedule when the probing settings changed."""
        now = self.registry.now()
        enabled_before, settings_before = was
        settings = monitor_settings(profile.properties["monitorConfig"])
        for endpoint in profile.endpoints.values():
            if not (profile.enabled and endpoint.enabled):
                endpoint.monitor = None
            elif endpoint.monitor is None or not enabled_before:
                endpoint.monitor = Monitor(anchor=now, changed_at=now)
            elif settings != settings_before:
                endpoint.monitor.restart_schedule(now)
        profile.record_answer(self.registry, now)

    def settle(self, profile: Profile, endpoint: Endpoint | None = None) -> None:
        """Monitoring as if it had run for long: each probed endpoint Online or Degraded by what
        a probe finds now (an estate's endpoints when armsim starts; admin `settle`)."""
        now = self.registry.now()
        _, tolerated = monitor_settings(profile.properties["monitorConfig"])
        for each in [endpoint] if endpoint is not None else list(profile.endpoints.values()):
            if each.monitor is not None:
                each.monitor = Monitor.settled(now, profile.probe_succeeds(self.registry, each),
                                               tolerated)
        profile.record_answer(self.registry, now)

    def settle_endpoint(self, endpoint_id: str) -> None:
        """`settle` one endpoint, by id (.../trafficManagerProfiles/P/{kind}/NAME)."""
        profile_id, _, name = endpoint_id.rsplit("/", 2)
        profile = self.registry.get(profile_id)
        endpoint = profile.endpoints.get(name.lower()) if isinstance(profile, Profile) else None
        if endpoint is None:
            raise NotFound(f"Traffic Manager endpoint {endpoint_id} does not exist.")
        self.settle(profile, endpoint)

    def tick(self, start: datetime, end: datetime) -> None:
        """The probes of (start, end], a stretch of virtual time with no state change."""
        for profile in list(self._profiles.values()):
            if not profile.enabled:
                continue
            interval, tolerated = monitor_settings(profile.properties["monitorConfig"])
            changed: list[datetime] = []
            for endpoint in profile.endpoints.values():
                monitor = endpoint.monitor
                if monitor is None or monitor.anchor + timedelta(
                        seconds=interval) * (monitor.probes + 1) > end:
                    continue  # no probe due in this stretch
                healthy = profile.probe_succeeds(self.registry, endpoint)
                if monitor.advance(start, end, interval, tolerated, healthy) and \
                        monitor.changed_at is not None:
                    changed.append(monitor.changed_at)
            if changed:
                profile.record_answer(self.registry, max(changed))

    # ------------------------------------------------------------------------------ DNS
    def dns_answer(self, sub: str, rg: str, profile_name: str) -> dict[str, Any]:
        """What Traffic Manager's DNS answers now for the profile, and since when.

        `changed_at` is when the answer last changed; resolvers and clients may keep the
        previous answer (`previous_answers`) for the profile's TTL after that, until
        `clients_converged_at` ("Clients continue to use the endpoint until the DNS cache
        expires ... controlled by the TTL setting")."""
        profile = self.get_profile(sub, rg, profile_name)
        dns = profile.properties["dnsConfig"]
        chosen = profile.answered(self.registry)
        entries = [(e, profile.monitor_status(self.registry, e))
                   for e in profile.endpoints.values()]
        history = profile.answer_history
        changed_at = history[-1][0] if history else None
        return {
            "profile": profile.id, "fqdn": dns["fqdn"], "ttl": dns["ttl"],
            "routing": profile.properties.get("trafficRoutingMethod", "Priority"),
            "nxdomain": not profile.enabled,
            "all_degraded": bool(chosen) and all(s == DEGRADED for _, s in chosen),
            "answers": [{"endpoint": e.name, "type": e.kind,
                         "target": e.properties.get("target") or
                         e.properties.get("targetResourceId"),
                         "priority": e.properties.get("priority"), "monitor_status": s}
                        for e, s in chosen],
            "endpoints": [{"endpoint": e.name, "endpoint_status":
                           e.properties.get("endpointStatus", "Enabled"), "monitor_status": s,
                           "priority": e.properties.get("priority")} for e, s in entries],
            "changed_at": changed_at.isoformat() if changed_at else None,
            "previous_answers": list(history[-2][1]) if len(history) > 1 else [],
            "clients_converged_at": (changed_at + timedelta(seconds=int(dns["ttl"]))).isoformat()
            if changed_at else None,
            "history": [{"at": at.isoformat(), "answers": list(names)} for at, names in history],
        }
