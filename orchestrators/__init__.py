"""The orchestrators layer's blueprints; function_app.py registers each one in BLUEPRINTS."""

import azure.durable_functions as df

from orchestrators import (
    backups,
    converge,
    drill,
    failback,
    failover,
    images,
    protect,
    resolve,
    sweep,
)

BLUEPRINTS: tuple[df.Blueprint, ...] = (converge.bp, protect.bp, failover.bp, failback.bp,
                                       drill.bp, sweep.bp, backups.bp, images.bp, resolve.bp)
