"""Common Alert Schema parsing and mapping alerts to plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmdr.alerts import InvalidAlert, matches, parse_alert
from vmdr.plan import parse_plan

SHOP = parse_plan((Path(__file__).resolve().parents[2] / "examples/plans/shop.yaml").read_text())
SUB = "00000000-0000-0000-0000-000000000001"


def alert(rule="shop-weu-availability", condition="Fired", targets=(), alert_id=None):
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": alert_id or f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/"
                "alerts/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
                "alertRule": rule,
                "severity": "Sev1",
                "signalType": "Metric",
                "monitorCondition": condition,
                "monitoringService": "Platform",
                "alertTargetIDs": list(targets),
                "configurationItems": [],
                "originAlertId": "x",
                "firedDateTime": "2026-11-25T12:00:00Z",
                "essentialsVersion": "1.0",
                "alertContextVersion": "1.0",
                "somethingNew": True,
            },
            "alertContext": {"conditionType": "SingleResourceMultipleMetricCriteria"},
            "customProperties": None,
        },
    }


def test_rule_name_or_id_maps_to_a_plan():
    assert matches(parse_alert(alert()), SHOP) == "alert rule shop-weu-availability"
    rule_id = (f"/subscriptions/{SUB}/resourceGroups/rg/providers/microsoft.insights/"
               "metricAlerts/Shop-WEU-Availability")
    assert matches(parse_alert(alert(rule=rule_id)), SHOP) is not None
    assert matches(parse_alert(alert(rule="other-rule")), SHOP) is None


def test_target_resource_listed_in_the_plan_maps():
    plan = SHOP.model_copy(deep=True)
    target = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
              "virtualMachines/shop-app-1")
    object.__setattr__(plan.failover, "alert_rules", [target.upper()])
    assert matches(parse_alert(alert(rule="x", targets=[target])), plan).startswith("alert target")


def test_the_same_alert_has_the_same_key_and_another_alert_another():
    first, retry = parse_alert(alert()), parse_alert(alert())
    assert first.key() == retry.key()
    assert parse_alert(alert(alert_id="/subscriptions/x/alerts/other")).key() != first.key()
    assert first.fired and not parse_alert(alert(condition="Resolved")).fired


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([], "JSON object"),
        ({"schemaId": "Microsoft.Insights/activityLogs", "data": {}}, "common alert schema"),
        ({"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {}}}, "essentials"),
    ],
)
def test_malformed_alerts_are_refused_with_the_reason(body, fragment):
    with pytest.raises(InvalidAlert, match=fragment):
        parse_alert(body)
