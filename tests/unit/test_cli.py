"""`python -m vmdr plan validate|show`, run as an operator runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vmdr", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )


def test_validate_examples_passes():
    plans = sorted(str(p) for p in (ROOT / "examples/plans").glob("*.yaml"))
    result = run("plan", "validate", *plans)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    " in result.stdout and "FAIL" not in result.stdout


def test_validate_prints_every_error_with_its_path(tmp_path):
    broken = (ROOT / "examples/plans/shop.yaml").read_text()
    broken = broken.replace("region: northeurope", "region: westeurope")
    broken = broken.replace('"0 0 */4 * * *"', '"0 */4 * * *"')
    broken = broken.replace("standby_vm: shop-db-standby", "standbyvm: shop-db-standby")
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    result = run("plan", "validate", str(path), str(ROOT / "examples/plans/minimal.yaml"))
    assert result.returncode == 1
    out = result.stdout
    assert f"FAIL  {path}: 4 problem(s)" in out
    assert "secondary.region: is the primary region too (westeurope)" in out
    assert "protection.schedule: '0 */4 * * *' has 5 fields" in out
    assert "groups[0].vms[0].standbyvm: unknown key; did you mean 'standby_vm'?" in out
    assert "groups[0].vms[0].standby_vm: required when strategy is standby-resize" in out
    assert "ok    " in out  # the good file is still reported
    assert "Traceback" not in result.stderr


def test_show_gives_the_normalised_plan_and_orders():
    result = run("plan", "show", "--json", str(ROOT / "examples/plans/shop.yaml"))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["shutdown_order"] == ["web", "app", "data"]
    assert [g["group"] for g in document["failover_order"]] == ["data", "app", "web"]
    assert document["plan"]["protection"]["retention"] == {"keep_last": 3, "keep_daily": 7}
    yaml_out = run("plan", "show", str(ROOT / "examples/plans/minimal.yaml"))
    assert yaml_out.returncode == 0 and "shutdown_order:" in yaml_out.stdout


def test_usage_errors_and_missing_files_are_clear():
    assert run("plan").returncode == 2
    missing = run("plan", "validate", "/nonexistent/plan.yaml")
    assert missing.returncode == 1
    assert "cannot read the file: No such file or directory" in missing.stdout


def test_validate_refuses_hostile_files_with_a_message_not_a_traceback(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 500)
    digits = tmp_path / "digits.yaml"
    digits.write_text("name: shop\nprotection:\n  rpo_minutes: " + "9" * 5001 + "\n")
    result = run("plan", "validate", str(deep), str(digits))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr == ""
    assert f"FAIL  {deep}: 1 problem(s)" in result.stdout
    assert "line 1, column 65: the plan nests too deep; at most 64 levels" in result.stdout
    assert f"FAIL  {digits}: 1 problem(s)" in result.stdout
    assert "line 3, column 16: a number of 5,001 characters; numbers are at most 50" \
        in result.stdout
    shown = run("plan", "show", str(deep))
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    assert "nests too deep" in shown.stderr


def test_remote_commands_need_a_url_and_check_plan_files_before_sending(tmp_path):
    from click.testing import CliRunner

    from vmdr.cli import cli

    runner = CliRunner()
    no_url = runner.invoke(cli, ["plans", "list"], env={"VMDR_URL": "", "VMDR_KEY": ""})
    assert no_url.exit_code == 2 and "no vmdr URL: pass --url or set VMDR_URL" in no_url.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: shop\n")
    # Port 9 (discard) is never reached: the file's problems stop the command first.
    put = runner.invoke(cli, ["plans", "put", str(broken), "--url", "http://127.0.0.1:9",
                              "--key", "k-secret"])
    assert put.exit_code == 2 and "problem(s); nothing was sent" in put.stderr
    unreachable = runner.invoke(cli, ["runs", "list", "shop", "--url", "http://127.0.0.1:9",
                                      "--key", "k-secret"])
    assert unreachable.exit_code == 5 and "cannot reach vmdr at http://127.0.0.1:9" in \
        unreachable.stderr
    assert "k-secret" not in unreachable.output + unreachable.stderr
    assert "Traceback" not in unreachable.output + unreachable.stderr
