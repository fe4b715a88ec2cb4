"""Orchestrators are deterministic (DESIGN §2, Durable replay rules): no I/O, no clock, no
randomness, no environment — read from their source, so a change that adds one fails here even
before a replay would desynchronise on Azure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ORCHESTRATORS = sorted((Path(__file__).resolve().parents[2] / "orchestrators").glob("*.py"))
# Modules that do I/O or read the clock, randomness or the environment.
FORBIDDEN_MODULES = ("os", "sys", "time", "random", "secrets", "uuid", "socket", "subprocess",
                     "threading", "asyncio", "requests", "urllib", "http", "sqlite3",
                     "azure.storage", "azure.mgmt", "azure.identity", "azure.core",
                     "vmdr.azure", "vmdr.catalog", "vmdr.clock", "vmdr.settings", "vmdr.ops")
# Calls that read the clock, the environment or the outside world, whatever module they are in.
FORBIDDEN_CALLS = {"now", "utcnow", "today", "sleep", "getenv", "urandom", "uuid4", "open",
                   "input", "print"}


def violations(source: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES):
                found.append((node.lineno, f"imports {name}"))
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in FORBIDDEN_CALLS:
                found.append((node.lineno, f"calls {called}()"))
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            found.append((node.lineno, "reads environ"))
    return [f"line {line}: {what}" for line, what in sorted(found, key=lambda f: f[0])]


@pytest.mark.parametrize("path", ORCHESTRATORS, ids=lambda p: p.name)
def test_orchestrators_do_no_io_and_read_no_clock_randomness_or_environment(path):
    assert violations(path.read_text()) == []


def test_the_rule_sees_each_kind_of_breach():
    breaches = violations(
        "import time\nfrom vmdr.catalog import default_catalog\nfrom datetime import datetime\n"
        "def orchestrator(context):\n    at = datetime.now()\n    import os\n"
        "    key = os.environ['X']\n")
    assert [b.split(": ", 1)[1] for b in breaches] == [
        "imports time", "imports vmdr.catalog", "imports vmdr.catalog.default_catalog",
        "calls now()", "imports os", "reads environ"]
