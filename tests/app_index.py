"""function_app.py as the Functions host indexes it, once per test process (an app's
`get_functions()` may run only once), for every test that needs the app's functions or routes."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass


@functools.cache
def indexed_functions() -> dict:
    """function name -> indexed function of function_app.py."""
    # The Functions host always sets AzureWebJobsStorage; the app refuses to start without it.
    os.environ.setdefault("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    import function_app

    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


@dataclass(frozen=True)
class HttpRoute:
    function: str
    method: str
    template: str  # the route, without the /api prefix

    def path(self, **params: str) -> str:
        """The route with its `{name}` parameters filled in."""
        path = self.template
        for name, value in params.items():
            path = path.replace("{" + name + "}", value)
        assert "{" not in path, (self, params)
        return path


def http_routes() -> list[HttpRoute]:
    """Every (function, method, route) the app serves over HTTP."""
    found = []
    for name, fn in indexed_functions().items():
        for binding in json.loads(fn.get_function_json())["bindings"]:
            if binding["type"] == "httpTrigger":
                found += [HttpRoute(name, method.upper(), binding["route"])
                          for method in binding.get("methods") or ["GET"]]
    return sorted(found, key=lambda r: (r.template, r.method))
