"""The triggers layer's blueprints; function_app.py registers each one in BLUEPRINTS."""

import azure.durable_functions as df

BLUEPRINTS: tuple[df.Blueprint, ...] = ()
