"""Blueprints of the orchestrators layer; function_app.py registers every one listed in BLUEPRINTS."""

import azure.durable_functions as df

BLUEPRINTS: tuple[df.Blueprint, ...] = ()
