"""Traffic Manager URLs → backend calls. The SDK writes `trafficmanagerprofiles` in lower case;
routes match case-insensitively. Profiles are global: none of these are long-running."""

from __future__ import annotations

from armsim.http import Call, Reply
from armsim.routing import RG, SUB, Router, global_region, paged, scope_of
from armsim.services import Services

NP = r"/providers/microsoft\.network"
PROFILE = rf"(?P<rid>{RG}{NP}/trafficmanagerprofiles/(?P<name>[^/]+))"
ENDPOINT = (rf"(?P<rid>{RG}{NP}/trafficmanagerprofiles/(?P<profile>[^/]+)"
            rf"/(?P<kind>azureendpoints|externalendpoints|nestedendpoints)/(?P<name>[^/]+))")
A = "Microsoft.Network/trafficManagerProfiles/"
KIND = {"azureendpoints": "azureEndpoints", "externalendpoints": "externalEndpoints",
        "nestedendpoints": "nestedEndpoints"}


def _p(call: Call) -> tuple[str, str, str]:
    return call.subscription, call.resource_group, call.match["name"]


def _e(call: Call) -> tuple[str, str, str, str, str]:
    return (call.subscription, call.resource_group, call.match["profile"],
            KIND[call.match["kind"].lower()], call.match["name"])


def get_profile(call: Call, svc: Services) -> Reply:
    return Reply(200, svc.trafficmanager.get_profile(*_p(call)).to_rest(svc.registry))


def put_profile(call: Call, svc: Services) -> Reply:
    status, profile = svc.trafficmanager.put_profile(*_p(call), call.json())
    return Reply(status, profile.to_rest(svc.registry))


def patch_profile(call: Call, svc: Services) -> Reply:
    profile = svc.trafficmanager.patch_profile(*_p(call), call.json())
    return Reply(200, profile.to_rest(svc.registry))


def delete_profile(call: Call, svc: Services) -> Reply:
    deleted = svc.trafficmanager.delete_profile(*_p(call))
    return Reply(200, {"boolean": True}) if deleted else Reply(204)


def list_profiles(call: Call, svc: Services) -> Reply:
    found = svc.trafficmanager.list_profiles(call.subscription, call.match.get("rg"))
    return paged(call, [p.to_rest(svc.registry) for p in found])


def get_endpoint(call: Call, svc: Services) -> Reply:
    profile, endpoint = svc.trafficmanager.get_endpoint(*_e(call))
    return Reply(200, profile.endpoint_rest(svc.registry, endpoint))


def put_endpoint(call: Call, svc: Services) -> Reply:
    status, profile, endpoint = svc.trafficmanager.put_endpoint(*_e(call), call.json())
    return Reply(status, profile.endpoint_rest(svc.registry, endpoint))


def patch_endpoint(call: Call, svc: Services) -> Reply:
    profile, endpoint = svc.trafficmanager.patch_endpoint(*_e(call), call.json())
    return Reply(200, profile.endpoint_rest(svc.registry, endpoint))


def delete_endpoint(call: Call, svc: Services) -> Reply:
    deleted = svc.trafficmanager.delete_endpoint(*_e(call))
    return Reply(200, {"boolean": True}) if deleted else Reply(204)


def endpoint_action(verb: str):
    """RBAC: Microsoft.Network/trafficManagerProfiles/{azureEndpoints|externalEndpoints}/verb."""
    def actions(call: Call, svc: Services) -> list[tuple[str, str]]:
        return [(f"{A}{KIND[call.match['kind'].lower()]}/{verb}", scope_of(call))]
    return actions


def register(router: Router) -> None:
    r = router.add
    r("GET", PROFILE, get_profile, A + "read", global_region)
    r("PUT", PROFILE, put_profile, A + "write", global_region)
    r("PATCH", PROFILE, patch_profile, A + "write", global_region)
    r("DELETE", PROFILE, delete_profile, A + "delete", global_region)
    r("GET", RG + NP + "/trafficmanagerprofiles", list_profiles, A + "read", global_region)
    r("GET", SUB + NP + "/trafficmanagerprofiles", list_profiles, A + "read", global_region)
    r("GET", ENDPOINT, get_endpoint, endpoint_action("read"), global_region)
    r("PUT", ENDPOINT, put_endpoint, endpoint_action("write"), global_region)
    r("PATCH", ENDPOINT, patch_endpoint, endpoint_action("write"), global_region)
    r("DELETE", ENDPOINT, delete_endpoint, endpoint_action("delete"), global_region)
