"""The vmdr Function App: creates the Durable Functions app and registers the blueprints.

Nothing else lives here (DESIGN §2): triggers/, orchestrators/ and activities/ own their functions.
It checks the app settings first, so a misconfigured app fails to start with a clear message.
"""

import azure.durable_functions as df
import azure.functions as func

import activities
import orchestrators
import triggers
from vmdr import durable_sdk, settings, telemetry
from vmdr.api import access

# Refuse to start with settings that are unsafe or cannot work; the message names each one.
settings.load()
# Spans and metrics to Application Insights when its connection string is set (vmdr/telemetry.py).
telemetry.configure()

# History timestamps read without dateutil's general parser: replay cost (vmdr/durable_sdk.py).
durable_sdk.apply()

# Routes need a key (function level), unless vmdr is deployed with App Service authentication:
# then it authorizes operator routes itself, by the caller's app roles (vmdr/api/access.py).
app = df.DFApp(http_auth_level=func.AuthLevel[access.http_auth_level()])

for blueprint in (*triggers.BLUEPRINTS, *orchestrators.BLUEPRINTS, *activities.BLUEPRINTS):
    app.register_functions(blueprint)
