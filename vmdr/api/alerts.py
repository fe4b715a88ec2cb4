"""POST /api/alerts: the Azure Monitor webhook (Common Alert Schema).

A Fired alert whose rule or target a plan lists starts an unplanned failover of that plan. Azure
Monitor retries a webhook up to five times, so the first delivery claims the alert in the catalog
(a create-only blob) and every later one is answered 200 as a duplicate. It answers at once: it
starts the orchestration and never waits for it.
"""

from __future__ import annotations

import logging

from azure.durable_functions import DurableOrchestrationClient

from vmdr.alerts import Alert, InvalidAlert, matches, parse_alert
from vmdr.api import failover as failover_api
from vmdr.api.bodies import json_value
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.failover.request import FailoverRequest, Mode

log = logging.getLogger("vmdr.alerts")


async def receive_alert(
    client: DurableOrchestrationClient, catalog: Catalog, body: bytes
) -> ApiResponse:
    data = json_value(body, "The alert")
    try:
        alert = parse_alert(data)
    except InvalidAlert as exc:
        raise ApiError(400, "InvalidAlert", str(exc), exc.details) from exc
    rule = alert.essentials.alert_rule
    if not alert.fired:
        return ok({"action": "ignored", "alertRule": rule,
                   "reason": f"monitorCondition is {alert.essentials.monitor_condition}; vmdr "
                             "fails over only on Fired alerts and never fails back on its own"})
    matched = []
    for name in catalog.list_plan_names():
        try:
            plan = catalog.load_plan(name)
        except PlanUnavailable:
            continue
        why = matches(alert, plan)
        if why:
            matched.append((plan.name, why))
    if not matched:
        return ok({"action": "ignored", "alertRule": rule,
                   "reason": "no plan lists this alert rule or target in failover.alert_rules"})
    results = [await _fail_over(client, catalog, alert, plan, why) for plan, why in matched]
    status = 202 if any(r["action"] == "started" for r in results) else 200
    return ApiResponse(status, {"alertRule": rule, "plans": results})


async def _fail_over(client, catalog: Catalog, alert: Alert, plan: str, why: str) -> dict:
    key = alert.key()
    if not catalog.claim_alert(plan, key, alert.essentials.alert_id):
        log.info("vmdr.alert duplicate plan=%s alert=%s", plan, alert.essentials.alert_id)
        return {"plan": plan, "action": "duplicate",
                "reason": "this alert already started (or tried) a failover of the plan"}
    request = FailoverRequest(
        mode=Mode.UNPLANNED,
        reason=f"Azure Monitor alert {alert.essentials.alert_rule} fired ({why})",
        requested_by=f"azure-monitor:{alert.essentials.alert_rule}"[:200],
        alert={"alert_id": alert.essentials.alert_id, "rule": alert.essentials.alert_rule,
               "severity": alert.essentials.severity, "fired": alert.essentials.fired_date_time},
    )
    try:
        response = await failover_api.start(client, plan, request)
    except ApiError as exc:
        if exc.code == "AlreadyRunning":
            return {"plan": plan, "action": "already-running", "reason": exc.message}
        catalog.release_alert(plan, key)
        raise
    except Exception:
        catalog.release_alert(plan, key)  # let Azure Monitor's retry try again
        raise
    log.warning("vmdr.alert started an unplanned failover plan=%s alert=%s", plan,
                alert.essentials.alert_id)
    return {"plan": plan, "action": "started", "reason": why, **response.body}
