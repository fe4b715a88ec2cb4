"""The orchestrators layer's blueprints; function_app.py registers each one in BLUEPRINTS."""

import azure.durable_functions as df

from orchestrators import protect

BLUEPRINTS: tuple[df.Blueprint, ...] = (protect.bp,)
