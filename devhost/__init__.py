"""devhost: a local Azure Functions + Durable Functions host for Python v2-model apps.

It runs a `function_app.py` unchanged: HTTP and timer triggers, and Durable orchestrations driven
through the SDK's own out-of-process replay protocol (history JSON in, actions JSON out), with
state in SQLite so that a killed host resumes. See devhost/README.md.
"""
