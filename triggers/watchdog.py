"""The watchdog timer (vmdr/watchdog.py): runs whose orchestration is gone are found and their
plans put where an operator can move them. It looks as often as the protect tick."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from vmdr import clock, watchdog
from vmdr.azure import clients
from vmdr.catalog import default_catalog

bp = df.Blueprint()
log = logging.getLogger("vmdr.watchdog")


@bp.timer_trigger(schedule="%VMDR_PROTECT_TICK%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def watchdog_tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    decisions = await watchdog.tick(client, default_catalog(), clients(), clock.utcnow())
    log.info("vmdr.watchdog.tick %s", decisions)
