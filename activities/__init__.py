"""The activities layer's blueprints; function_app.py registers each one in BLUEPRINTS."""

import azure.durable_functions as df

from activities import (
    backups,
    drill,
    failback,
    failover,
    hooks,
    images,
    protect,
    resolve,
    writers,
)

BLUEPRINTS: tuple[df.Blueprint, ...] = (protect.bp, failover.bp, failback.bp, drill.bp,
                                         hooks.bp, backups.bp, images.bp, writers.bp, resolve.bp)
