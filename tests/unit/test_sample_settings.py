"""local.settings.sample.json lists every setting the app reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_CODE = ["function_app.py", "vmdr", "triggers", "orchestrators", "activities"]
# The operator's command line reads VMDR_URL/VMDR_KEY on the operator's machine, not in the app.
NOT_THE_APP = ROOT / "vmdr" / "cli"


def settings_read_by_the_app() -> set[str]:
    names: set[str] = set()
    for place in APP_CODE:
        path = ROOT / place
        for source in [path] if path.is_file() else path.rglob("*.py"):
            if NOT_THE_APP in source.parents:
                continue
            text = source.read_text()
            names |= set(re.findall(r'"(VMDR_[A-Z_]+|AzureWebJobsStorage|TaskHubName)"', text))
            names |= set(re.findall(r'"%(\w+)%"', text))  # binding expressions: %Setting%
    names |= set(re.findall(r"%(\w+)%", (ROOT / "host.json").read_text()))
    return names


def test_sample_lists_every_setting():
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    read = settings_read_by_the_app()
    assert {"VMDR_ARM_ENDPOINT", "VMDR_LOCAL_TOKEN", "TaskHubName", "VMDR_PROTECT_TICK"} <= read
    missing = read - set(sample)
    assert not missing, f"local.settings.sample.json lacks {sorted(missing)}"


def test_vmdr_settings_declares_every_setting_the_app_reads():
    from vmdr.settings import APP_SETTINGS, local_only, required_in_azure

    declared = {s.name for s in APP_SETTINGS}
    missing = settings_read_by_the_app() - declared
    assert not missing, f"vmdr.settings.APP_SETTINGS lacks {sorted(missing)}"
    assert len(declared) == len(APP_SETTINGS)
    assert {"AzureWebJobsStorage__accountName", "VMDR_PROTECT_TICK", "TaskHubName",
            "AZURE_CLIENT_ID"} <= set(required_in_azure())
    assert {"VMDR_LOCAL_TOKEN", "VMDR_LOCAL_STORAGE_KEY", "AzureWebJobsStorage"} <= \
        set(local_only())
