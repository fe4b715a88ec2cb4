"""The activities layer's blueprints; function_app.py registers each one in BLUEPRINTS."""

import azure.durable_functions as df

from activities import protect

BLUEPRINTS: tuple[df.Blueprint, ...] = (protect.bp,)
