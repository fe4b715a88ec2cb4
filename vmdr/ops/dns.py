"""Traffic Manager: endpoint status, and which endpoint DNS answers with now.

Failing over by PATCHing `endpointStatus` avoids the priority-uniqueness dance of swapping
priorities. Priority routing answers with the enabled endpoint of lowest priority number that is
not Degraded; a Disabled endpoint leaves the answers at once; when every enabled endpoint is
degraded, all of them are returned (learn.microsoft.com, "Traffic Manager routing methods" and
"endpoint monitoring").
"""

from __future__ import annotations

from azure.mgmt.trafficmanager.models import Endpoint

from vmdr import arm_ids
from vmdr.azure import AzureClients, text


def _parts(endpoint_id: str) -> tuple[arm_ids.ResourceId, str, str]:
    rid = arm_ids.parse_typed(endpoint_id, *arm_ids.TRAFFIC_MANAGER_ENDPOINTS)
    profile, endpoint = rid.names
    return rid, profile, endpoint


def endpoint_status(clients: AzureClients, endpoint_id: str) -> str:
    rid, profile, name = _parts(endpoint_id)
    endpoint = clients.traffic_manager(rid.subscription_id).endpoints.get(
        rid.resource_group, profile, rid.types[-1], name
    )
    return text(endpoint.endpoint_status) or "Enabled"


def set_endpoint_status(clients: AzureClients, endpoint_id: str, status: str) -> str:
    rid, profile, name = _parts(endpoint_id)
    endpoints = clients.traffic_manager(rid.subscription_id).endpoints
    current = endpoints.get(rid.resource_group, profile, rid.types[-1], name)
    if (text(current.endpoint_status) or "").lower() != status.lower():
        endpoints.update(
            rid.resource_group, profile, rid.types[-1], name, Endpoint(endpoint_status=status)
        )
    return status


def answer(clients: AzureClients, profile_id: str) -> dict:
    """The endpoints DNS answers with now, and the TTL clients keep an old answer for."""
    rid = arm_ids.parse_typed(profile_id, arm_ids.TRAFFIC_MANAGER_PROFILE)
    profile = clients.traffic_manager(rid.subscription_id).profiles.get(
        rid.resource_group, rid.name
    )
    enabled = [
        e for e in profile.endpoints or []
        if (text(e.endpoint_status) or "Enabled").lower() == "enabled"
    ]
    healthy = [e for e in enabled if (text(e.endpoint_monitor_status) or "").lower() != "degraded"]
    # All enabled endpoints degraded: Traffic Manager returns them all.
    chosen = [min(healthy, key=lambda e: e.priority or 1000)] if healthy else enabled
    ttl = profile.dns_config.ttl if profile.dns_config else None
    return {"endpoints": [e.id for e in chosen], "ttl": ttl,
            "monitor": {e.id: text(e.endpoint_monitor_status) for e in profile.endpoints or []}}
