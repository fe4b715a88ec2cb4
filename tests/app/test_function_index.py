"""function_app.py as the Functions host indexes it."""

from __future__ import annotations

import json
import re


def test_every_function_indexed_once_with_unique_snake_case_name(app_functions):
    import function_app

    names = [fn.get_function_name() for fn in app_functions.values()]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in names), names
    assert {"list_plans", "get_plan", "put_plan"} <= set(names)
    assert function_app.app.auth_level.value == "function"


def test_bindings_are_well_formed(app_functions):
    for name, fn in app_functions.items():
        document = json.loads(fn.get_function_json())
        bindings = document["bindings"]
        triggers = [b for b in bindings if b["type"].endswith("Trigger")]
        assert len(triggers) == 1, (name, bindings)
        assert all(b["direction"] in ("IN", "OUT", "INOUT", "in", "out") for b in bindings)
        trigger = triggers[0]
        if trigger["type"] == "httpTrigger":
            assert trigger["authLevel"].lower() == "function", name
            assert trigger["route"] and not trigger["route"].startswith("/")
            assert any(b["type"] == "http" for b in bindings), name


def test_routes_and_methods_do_not_collide(app_functions):
    seen = {}
    for name, fn in app_functions.items():
        for binding in json.loads(fn.get_function_json())["bindings"]:
            if binding["type"] == "httpTrigger":
                for method in binding.get("methods") or ["ANY"]:
                    key = (binding["route"].lower(), method.upper())
                    assert key not in seen, f"{name} and {seen.get(key)} both serve {key}"
                    seen[key] = name


def test_the_app_refuses_to_start_with_unsafe_settings():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "AzureWebJobsStorage": "UseDevelopmentStorage=true",
           "VMDR_ARM_ENDPOINT": "https://management.azure.com", "VMDR_LOCAL_TOKEN": "t"}
    result = subprocess.run([sys.executable, "-c", "import function_app"], env=env,
                            cwd=Path(__file__).resolve().parents[2], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "vmdr cannot start: VMDR_LOCAL_TOKEN is set but VMDR_ARM_ENDPOINT is not a loopback" \
        in result.stderr


def test_with_entra_operator_routes_are_anonymous_to_the_host_and_the_alerts_keep_their_key():
    """VMDR_EASY_AUTH: the host must let a signed-in caller without a key reach vmdr, which then
    authorizes by app role (vmdr/api/access.py); the alert webhook stays `function` level."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = ("import json, function_app\n"
              "levels = {}\n"
              "for fn in function_app.app.get_functions():\n"
              "    for b in json.loads(fn.get_function_json())['bindings']:\n"
              "        if b['type'] == 'httpTrigger':\n"
              "            levels[fn.get_function_name()] = b['authLevel'].lower()\n"
              "print(json.dumps(levels))\n")
    env = {**os.environ, "AzureWebJobsStorage": "UseDevelopmentStorage=true",
           "VMDR_EASY_AUTH": "true"}
    result = subprocess.run([sys.executable, "-c", script], env=env, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2], capture_output=True)
    assert result.returncode == 0, result.stderr[-2000:]
    levels = json.loads(result.stdout.strip().splitlines()[-1])
    assert levels.pop("receive_alert") == "function"
    assert len(levels) >= 28 and set(levels.values()) == {"anonymous"}, levels
