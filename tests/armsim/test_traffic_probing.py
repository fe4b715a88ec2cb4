"""Traffic Manager probing in simulated time (learn.microsoft.com, "Traffic Manager endpoint
monitoring"), through the real TrafficManagerManagementClient and armsim's DNS view.

Probes run on the virtual clock, which keeps moving while a test runs; so the assertions read the
virtual times armsim recorded (when an outage began, when the DNS answer changed) rather than
racing the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from armsim_support import SUB, TM, wait_for_dns
from azure.core.exceptions import HttpResponseError
from azure.mgmt.trafficmanager import models as tmm

PRIMARY = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-global/providers/Microsoft.Network/"
           "trafficManagerProfiles/tm-shop/externalEndpoints/shop-weu")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _changes(dns: dict) -> list[tuple[datetime, list[str]]]:
    return [(_at(h["at"]), h["answers"]) for h in dns["history"]]


def _status(arm, name: str) -> str:
    endpoint = arm.tm.endpoints.get(*TM, "ExternalEndpoints", name)
    return str(getattr(endpoint.endpoint_monitor_status, "value",
                       endpoint.endpoint_monitor_status))


def test_an_estate_starts_settled(arm):
    """Seeded endpoints have been probed for long: Online or Degraded by their health now."""
    assert _status(arm, "shop-weu") == "Online" and _status(arm, "shop-neu") == "Degraded"
    profile = arm.tm.profiles.get(*TM)
    config = profile.monitor_config
    assert (config.interval_in_seconds, config.tolerated_number_of_failures,
            config.timeout_in_seconds) == (30, 3, 10)  # Azure's defaults


def test_degraded_only_after_tolerated_failures_plus_one_probes(arm):
    began = _at(arm.admin.start_outage("westeurope")["at"])
    dns = wait_for_dns(arm, lambda d: d["all_degraded"])
    when, answers = _changes(dns)[-1]
    assert sorted(answers) == ["shop-neu", "shop-weu"]  # all degraded: all answered
    # probes every 30 s; the 4th failed one (3 tolerated + 1) marks it Degraded
    assert timedelta(seconds=90) < when - began <= timedelta(seconds=120)
    assert _status(arm, "shop-weu") == "Degraded"
    profile = arm.tm.profiles.get(*TM)
    assert profile.monitor_config.profile_monitor_status == "Degraded"


def test_one_good_probe_brings_it_back_online(arm):
    arm.admin.start_outage("westeurope")
    wait_for_dns(arm, lambda d: d["all_degraded"])
    back = _at(arm.admin.end_outage("westeurope", restart_vms=True)["at"])
    dns = wait_for_dns(arm, lambda d: [a["endpoint"] for a in d["answers"]] == ["shop-weu"])
    when, _ = _changes(dns)[-1]
    assert timedelta(0) < when - back <= timedelta(seconds=30)


def test_fast_probing_with_no_tolerated_failure(arm):
    arm.tm.profiles.update(*TM, tmm.Profile(monitor_config=tmm.MonitorConfig(
        interval_in_seconds=10, tolerated_number_of_failures=0)))
    config = arm.tm.profiles.get(*TM).monitor_config
    assert config.timeout_in_seconds == 9  # the default at a 10 s interval
    began = _at(arm.admin.start_outage("westeurope")["at"])
    dns = wait_for_dns(arm, lambda d: d["all_degraded"])
    when, _ = _changes(dns)[-1]
    assert timedelta(0) < when - began <= timedelta(seconds=10)  # the first failed probe


def test_monitor_settings_outside_azures_bounds_are_refused(arm):
    for config in (tmm.MonitorConfig(interval_in_seconds=20),
                   tmm.MonitorConfig(tolerated_number_of_failures=10),
                   tmm.MonitorConfig(interval_in_seconds=10, timeout_in_seconds=10)):
        with pytest.raises(HttpResponseError) as caught:
            arm.tm.profiles.update(*TM, tmm.Profile(monitor_config=config))
        assert caught.value.status_code == 400 and "monitorConfig" in caught.value.message


def test_a_disabled_endpoint_leaves_dns_at_once_and_is_checked_when_enabled(arm):
    eps = arm.tm.endpoints
    disabled = eps.update(*TM, "ExternalEndpoints", "shop-weu",
                          tmm.Endpoint(endpoint_status="Disabled"))
    assert disabled.endpoint_monitor_status == "Disabled"
    dns = arm.admin.dns(SUB, *TM)
    assert [a["endpoint"] for a in dns["answers"]] == ["shop-neu"]  # at once, no probe needed
    left, answers = _changes(dns)[-1]
    assert answers == ["shop-neu"]
    # clients may use the old answer for the profile's TTL (30 s) after it changed
    assert _at(dns["clients_converged_at"]) == left + timedelta(seconds=30)
    assert dns["previous_answers"] == ["shop-weu"]
    enabled = eps.update(*TM, "ExternalEndpoints", "shop-weu",
                         tmm.Endpoint(endpoint_status="Enabled"))
    # just enabled: not probed yet, and answered in DNS meanwhile
    assert enabled.endpoint_monitor_status == "CheckingEndpoint"
    changes = _changes(arm.admin.dns(SUB, *TM))
    back = next(i for i, (at, _) in enumerate(changes) if at > left)
    assert changes[back][1] == ["shop-weu"]  # answered from the moment it was enabled
    wait_for_dns(arm, lambda d: d["endpoints"][0]["monitor_status"] == "Online")


def test_checking_endpoint_then_degraded_when_its_probes_fail(arm):
    created = arm.tm.endpoints.create_or_update(
        *TM, "ExternalEndpoints", "shop-dr", tmm.Endpoint(
            target="shop-dr.example.net", priority=3, endpoint_status="Enabled"))
    assert created.endpoint_monitor_status == "CheckingEndpoint"
    arm.admin.set_endpoint_health(created.id, status="Degraded")  # what its probes will find
    wait_for_dns(arm, lambda d: {e["endpoint"]: e["monitor_status"] for e in d["endpoints"]}
                 ["shop-dr"] == "Degraded")
    profile = arm.tm.profiles.get(*TM)
    assert profile.monitor_config.profile_monitor_status == "Degraded"


def test_profile_status_disabled_answers_nothing(arm):
    profile = arm.tm.profiles.update(*TM, tmm.Profile(profile_status="Disabled"))
    assert profile.monitor_config.profile_monitor_status == "Disabled"
    assert {str(getattr(e.endpoint_monitor_status, "value", e.endpoint_monitor_status))
            for e in profile.endpoints} == {"Inactive"}
    dns = arm.admin.dns(SUB, *TM)
    assert dns["nxdomain"] and dns["answers"] == []
    profile = arm.tm.profiles.update(*TM, tmm.Profile(profile_status="Enabled"))
    # enabling the profile starts probing every endpoint afresh
    assert profile.monitor_config.profile_monitor_status == "CheckingEndpoints"
    assert {str(getattr(e.endpoint_monitor_status, "value", e.endpoint_monitor_status))
            for e in profile.endpoints} == {"CheckingEndpoint"}


def test_settle_applies_a_health_source_at_once(arm):
    arm.admin.set_endpoint_health(PRIMARY, status="Degraded", settle=True)
    assert _status(arm, "shop-weu") == "Degraded"
    arm.admin.set_endpoint_health(PRIMARY, status="Stopped")  # not probed: shown as set
    assert _status(arm, "shop-weu") == "Stopped"
