"""`make package` is what the Function App receives: built from .funcignore, it holds the app and
nothing of the local platform, and in a fresh virtual environment with only requirements.txt its
function_app.py imports and indexes every function the repository's app has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from localplatform import package

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".wheelhouse"  # `make wheelhouse`: wheels of requirements.txt
APP_TOPS = {"function_app.py", "host.json", "requirements.txt", "activities", "orchestrators",
            "triggers", "vmdr"}
LOCAL_PLATFORM = ("armsim", "devhost", "localplatform", "tests", "examples", "infra")

# Run by the fresh environment's interpreter in isolated mode (-I: no PYTHONPATH, no user site,
# not the current directory): only the package folder and what pip installed are importable.
INDEX = """
import json, sys
LOCAL_PLATFORM = sys.argv[2].split(",")
sys.path.insert(0, sys.argv[1])
import function_app
functions = function_app.app.get_functions()
local = sorted(m for m in sys.modules if m.split(".")[0] in LOCAL_PLATFORM)
print(json.dumps({"functions": sorted(
    [f.get_function_name(), [b["type"] for b in json.loads(f.get_function_json())["bindings"]
                             if b["type"].endswith("Trigger")][0]]
    for f in functions), "local_platform_modules": local,
    "function_app": function_app.__file__}))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("package") / "vmdr"
    return out, package.build(out)


def test_the_package_holds_the_app_and_nothing_else(built):
    out, files = built
    assert {f.split("/", 1)[0] for f in files} == APP_TOPS
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert "function_app.py" in files and "vmdr/settings.py" in files
    assert sorted(str(p.relative_to(out).as_posix()) for p in out.rglob("*") if p.is_file()) \
        == files
    import zipfile

    with zipfile.ZipFile(out.with_suffix(".zip")) as archive:
        assert sorted(archive.namelist()) == files
    # The app's own code, complete: every module of the app's packages is there.
    for top in ("activities", "orchestrators", "triggers", "vmdr"):
        expected = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / top).rglob("*.py")
                          if "__pycache__" not in p.parts)
        assert [f for f in files if f.startswith(top + "/")] == expected


def test_funcignore_keeps_out_the_local_platform_and_secrets():
    spec = package.ignore_spec()
    for path in ("armsim/server.py", "devhost/host.py", "localplatform/demo.py",
                 "tests/conftest.py", "examples/estate/demo.yaml", "infra/main.bicep",
                 "local.settings.json", ".azure/prod/.env", ".venv/bin/python",
                 "vmdr/__pycache__/x.cpython-311.pyc", "requirements-dev.txt",
                 "requirements-cli.txt", "azure.yaml"):
        assert spec.match_file(path), path
    for path in ("function_app.py", "host.json", "requirements.txt", "vmdr/settings.py"):
        assert not spec.match_file(path), path


def _fresh_environment(where: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    python = where / "bin" / "python"
    source = (["--no-index", "--find-links", str(WHEELHOUSE)]
              if (WHEELHOUSE / ".built").exists() else [])
    subprocess.run([str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check",
                    *source, "-r", str(ROOT / "requirements.txt")], check=True, timeout=600)
    return python


def _index(python: Path, folder: Path) -> dict:
    # The settings a deployed app has (identity-based storage); nothing local.
    env = {"PATH": os.environ["PATH"], "AzureWebJobsStorage__accountName": "stvmdrpackage",
           "VMDR_PROTECT_TICK": "0 */5 * * * *", "TaskHubName": "vmdr"}
    result = subprocess.run([str(python), "-I", "-c", INDEX, str(folder),
                             ",".join(LOCAL_PLATFORM)], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_fresh_environment_with_only_requirements_txt_indexes_every_function(built,
                                                                               tmp_path):
    out, _ = built
    python = _fresh_environment(tmp_path / "venv")
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"],
                               capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(installed)}
    assert {"azure-functions", "azure-functions-durable"} <= names
    assert not {"aiohttp-devtools", "pytest", "trustme", "ruff", "pycep-parser"} & names
    packaged = _index(python, out)
    assert packaged["function_app"] == str(out / "function_app.py")
    assert packaged["local_platform_modules"] == []
    repository = _index(Path(sys.executable), ROOT)
    assert packaged["functions"] == repository["functions"]
    kinds = {kind for _, kind in packaged["functions"]}
    assert {"httpTrigger", "timerTrigger", "orchestrationTrigger", "activityTrigger"} <= kinds
