"""POST /api/alerts: the Azure Monitor webhook (Common Alert Schema).

A Fired alert whose rule or target a plan lists starts an unplanned failover of that plan. Azure
Monitor retries a webhook up to five times, so the first delivery claims the alert in the catalog
(a create-only blob) and every later one is answered 200 as a duplicate — unless the claim shows
that its delivery never got to start the run (see _fail_over). It answers at once: it starts the
orchestration and never waits for it.
"""

from __future__ import annotations

import logging

from azure.durable_functions import DurableOrchestrationClient

from vmdr import clock, lifecycle, writers
from vmdr import functions as fn
from vmdr.alerts import Alert, InvalidAlert, alert_key, matches, parse_alert
from vmdr.api import failover as failover_api
from vmdr.api import instances, starts
from vmdr.api.bodies import json_value
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import (
    ALERT_ALREADY_RUNNING,
    ALERT_STARTED,
    ALERT_STARTING,
    Catalog,
    PlanUnavailable,
)
from vmdr.failover.request import FailoverRequest, Mode
from vmdr.writers import Kind

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


def alert_request(alert: Alert, why: str) -> FailoverRequest:
    """The unplanned failover an alert asks for."""
    essentials = alert.essentials
    return FailoverRequest(
        mode=Mode.UNPLANNED,
        reason=f"Azure Monitor alert {essentials.alert_rule} fired ({why})"[:500],
        requested_by=f"azure-monitor:{essentials.alert_rule}"[:200],
        alert={"alert_id": essentials.alert_id, "rule": essentials.alert_rule,
               "severity": essentials.severity, "fired": essentials.fired_date_time},
    )


async def _fail_over(client, catalog: Catalog, alert: Alert, plan: str, why: str) -> dict:
    """Claim the alert, start its run, record that it started — safe against a crash between
    any two of these: a retry that finds the claim still `starting` looks for the run (the
    instance's input, then the reports of finished runs) and starts it if there is none."""
    key, alert_id = alert.key(), alert.essentials.alert_id
    state = lifecycle.state_of(catalog, plan)
    if state not in (lifecycle.State.PROTECTED, lifecycle.State.FAILING_OVER):
        # The plan already runs in the secondary (or is coming back, or a run of it needs an
        # operator): another failover would rebuild a second copy next to the first. Nothing is
        # started or claimed.
        log.info("vmdr.alert plan=%s is %s: not failed over again", plan, state.value)
        return {"plan": plan, "action": "already-failed-over", "state": state.value,
                "reason": f"the plan is {state.value}; next: "
                          f"{lifecycle.NEXT[state].format(plan=plan)}"}
    duplicate = {"plan": plan, "action": "duplicate",
                 "reason": "this alert already started (or tried) a failover of the plan"}
    claim = catalog.claim_alert(plan, key, alert_id)
    etag = claim.etag
    if not claim.created:
        if claim.state != ALERT_STARTING:
            log.info("vmdr.alert duplicate plan=%s alert=%s", plan, alert_id)
            return duplicate
        if await _alert_has_run(client, catalog, plan, key):
            catalog.set_alert_state(plan, key, alert_id, ALERT_STARTED, etag)
            return duplicate
        # The delivery that claimed it died before starting the run (or is starting it this
        # very moment): take the claim over; of several retries, one wins the ETag.
        etag = catalog.set_alert_state(plan, key, alert_id, ALERT_STARTING, etag)
        if etag is None:
            return duplicate
        log.warning("vmdr.alert claim without a run plan=%s alert=%s: starting it", plan,
                    alert_id)
    try:
        await starts.begin(client, catalog, failover_api.failover_start(
            plan, alert_request(alert, why)), clock.utcnow())
    except starts.AlreadyRunning as exc:
        if await _alert_has_run(client, catalog, plan, key):  # a concurrent retry's start
            catalog.set_alert_state(plan, key, alert_id, ALERT_STARTED, etag)
            return duplicate
        catalog.set_alert_state(plan, key, alert_id, ALERT_ALREADY_RUNNING, etag)
        return {"plan": plan, "action": "already-running", "reason": f"{exc}."}
    except lifecycle.WrongState as exc:  # the plan moved on since it was read above
        catalog.set_alert_state(plan, key, alert_id, ALERT_ALREADY_RUNNING, etag)
        return {"plan": plan, "action": "already-failed-over", "state": exc.state.value,
                "reason": f"{exc}"}
    except writers.Busy as exc:
        # Held for a moment by a change of the plan: Azure Monitor retries a 503 (AZURE_FACTS),
        # so the claim is let go and the retry starts the failover.
        catalog.release_alert(plan, key)
        raise ApiError(503, "PlanBusy", f"{exc}; the alert's retry will start the failover.",
                       [{"plan": plan, "kind": exc.kind.value}]) from exc
    except Exception:
        catalog.release_alert(plan, key)  # let Azure Monitor's retry try again
        raise
    catalog.set_alert_state(plan, key, alert_id, ALERT_STARTED, etag)
    log.warning("vmdr.alert started an unplanned failover plan=%s alert=%s", plan, alert_id)
    follow = starts.status_path(plan, Kind.FAILOVER)
    return {"plan": plan, "action": "started", "reason": why,
            "id": fn.failover_instance(plan), "statusUrl": follow}


async def _alert_has_run(client, catalog: Catalog, plan: str, key: str) -> bool:
    """A run of `plan` started by this alert: the instance now (running or finished), or a
    finished run's report (the instance may since have been replaced by a newer run)."""
    started = await instances.input_of(client, fn.failover_instance(plan))
    alert_id = ((started or {}).get("alert") or {}).get("alert_id")
    if alert_id and alert_key(alert_id) == key:
        return True
    return catalog.alert_ran(plan, key)
