"""Azure Monitor alerts in the Common Alert Schema, and which plan an alert may fail over.

Source of the schema: learn.microsoft.com "Common alert schema" and "Sample alert payloads" —
`{"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials", "alertContext",
"customProperties"}}`. `alertRule` is the rule's name or ARM id depending on the monitor service.
Action groups retry a webhook up to five times, so the same alert must map to the same key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vmdr.plan import Plan

SCHEMA_ID = "azureMonitorCommonAlertSchema"


class Essentials(BaseModel):
    # Unknown fields are kept out of the way, not refused: Azure adds fields over time.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    alert_id: str = Field(alias="alertId", min_length=1)
    alert_rule: str = Field(alias="alertRule", min_length=1)
    alert_rule_id: str | None = Field(None, alias="alertRuleID")
    severity: str | None = None
    signal_type: str | None = Field(None, alias="signalType")
    monitor_condition: str = Field(alias="monitorCondition")
    monitoring_service: str | None = Field(None, alias="monitoringService")
    alert_target_ids: list[str] = Field(default_factory=list, alias="alertTargetIDs")
    configuration_items: list[str] = Field(default_factory=list, alias="configurationItems")
    origin_alert_id: str | None = Field(None, alias="originAlertId")
    fired_date_time: str | None = Field(None, alias="firedDateTime")
    description: str | None = None


class AlertData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    essentials: Essentials
    alert_context: dict[str, Any] | None = Field(None, alias="alertContext")


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_id: str = Field(alias="schemaId")
    data: AlertData

    @property
    def essentials(self) -> Essentials:
        return self.data.essentials

    @property
    def fired(self) -> bool:
        return self.essentials.monitor_condition.lower() == "fired"

    def key(self) -> str:
        return alert_key(self.essentials.alert_id)


def alert_key(alert_id: str) -> str:
    """One key per alert instance: Azure Monitor's retries of it share the same alertId (an ARM
    id, with `/`: hashed to name a blob)."""
    return hashlib.sha256(alert_id.lower().encode()).hexdigest()[:32]


class InvalidAlert(ValueError):
    def __init__(self, message: str, details: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.details = details or []


def parse_alert(data: Any) -> Alert:
    if not isinstance(data, dict):
        raise InvalidAlert("The body must be a JSON object in the Common Alert Schema.")
    schema_id = data.get("schemaId")
    if schema_id != SCHEMA_ID:
        raise InvalidAlert(
            f"schemaId is {schema_id!r}; vmdr reads only {SCHEMA_ID!r} alerts. Enable the common "
            "alert schema on the action group's webhook or Azure Function action."
        )
    try:
        return Alert.model_validate(data)
    except ValidationError as exc:
        details = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidAlert("The alert does not have the Common Alert Schema's essentials.",
                           details) from exc


def matches(alert: Alert, plan: Plan) -> str | None:
    """Why `alert` may start a failover of `plan` (its rule or a target is listed in
    `failover.alert_rules`), or None."""
    wanted = {rule.lower() for rule in plan.failover.alert_rules}
    if not wanted:
        return None
    essentials = alert.essentials
    for label, value in (("alert rule", essentials.alert_rule),
                         ("alert rule id", essentials.alert_rule_id)):
        if value and (value.lower() in wanted or _rule_name(value) in wanted):
            return f"{label} {value}"
    for target in essentials.alert_target_ids:
        if target.lower() in wanted:
            return f"alert target {target}"
    return None


def _rule_name(rule: str) -> str:
    """The name at the end of a rule's ARM id, so a plan may list either form."""
    return rule.rstrip("/").rsplit("/", 1)[-1].lower()
