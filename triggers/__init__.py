"""The triggers layer's blueprints; function_app.py registers each one in BLUEPRINTS."""

import azure.durable_functions as df

from triggers import (
    backups,
    drills,
    failover,
    images,
    lifecycle,
    plans,
    protect,
    runs,
    watchdog,
)

BLUEPRINTS: tuple[df.Blueprint, ...] = (plans.bp, protect.bp, failover.bp, lifecycle.bp, runs.bp,
                                       drills.bp, backups.bp, images.bp, watchdog.bp)
