"""`python -m vmdr` against the running local app (devhost + armsim + Azurite): a plan put,
protected and failed over through the CLI, with its exit codes and `--output json`.

One devhost for the whole story (each start costs seconds). The drill commands are driven in
tests/e2e/test_drills.py, beside the drills they start.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
from dataclasses import dataclass

import yaml
from click.testing import CliRunner

from tests.e2e.conftest import ROOT
from tests.e2e.test_failover import shop_plan
from vmdr.cli import cli


@dataclass
class Screen:
    returncode: int
    text: str


def on_a_terminal(args: list[str], env: dict[str, str], answers: list[tuple[str, str]]) -> Screen:
    """`python -m vmdr ARGS` with a pseudo-terminal as stdin and stdout; each answer is typed
    once its question has appeared."""
    main, side = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "vmdr", *args], cwd=ROOT,
                               env={**os.environ, **env, "COLUMNS": "120"},
                               stdin=side, stdout=side, stderr=side, close_fds=True)
    os.close(side)
    seen = b""
    pending = list(answers)
    try:
        while True:
            ready, _, _ = select.select([main], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if pending and pending[0][0].encode() in seen.split(b"\x00")[-1]:
                os.write(main, pending.pop(0)[1].encode() + b"\r")
                seen += b"\x00"  # answered up to here
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)
    return Screen(process.returncode, seen.replace(b"\x00", b"").decode(errors="replace"))


def test_a_failover_through_the_cli(vmdr, tmp_path):
    url, key = vmdr.client.base_url, vmdr.client.function_key
    runner = CliRunner()
    env = {"VMDR_URL": url, "VMDR_KEY": key}

    def run(*args: str, code: int = 0):
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, (args, result.output, result.stderr)
        assert "Traceback" not in result.output + result.stderr
        assert key not in result.output + result.stderr
        return result

    plan_file = tmp_path / "shop.yaml"
    plan_file.write_text(yaml.safe_dump(shop_plan(vmdr)))
    assert "created plan shop" in run("plans", "put", str(plan_file)).output
    listed = json.loads(run("plans", "list", "--output", "json").output)
    assert [p["name"] for p in listed["plans"]] == ["shop"]
    missing = run("plans", "show", "nosuchplan", code=3)
    assert "404 PlanNotFound: There is no plan 'nosuchplan'." in missing.stderr

    # Before any protect cycle every VM is over its RPO (no point at all).
    status = json.loads(run("protect", "status", "shop", "-o", "json").output)
    assert {vm["vm"] for vm in status["vms"]} == {"shop-app-1", "shop-app-2"}
    assert all(vm["over_rpo"] for vm in status["vms"])
    run("protect", "now", "shop")
    vmdr.client.wait_for_completion("protect-shop", timeout=60)
    table = run("protect", "status", "shop").output
    assert "shop-app-1" in table and "over the RPO target" not in table
    assert all(not vm["over_rpo"] for vm in json.loads(
        run("protect", "status", "shop", "-o", "json").output)["vms"])

    # On a terminal, --watch asks at the approval: rejected there, the run changes nothing and
    # the command exits 1 (the failover did not happen).
    run("failover", "start", "shop", "--reason", "asked on a terminal")
    screen = on_a_terminal(["failover", "status", "shop", "--watch"], env,
                           answers=[("approve, reject or wait", "reject"), ("comment", "no")])
    assert screen.returncode == 1, screen.text
    assert "awaits approval" in screen.text and key not in screen.text
    rejected = json.loads(run("failover", "status", "shop", "-o", "json", code=1).output)
    steps = {step["name"]: step["state"] for step in rejected["status"]["steps"]}
    assert steps["approval"] == "failed" and "shutdown" not in steps, steps
    assert rejected["output"]["outcome"] != "succeeded"

    started = json.loads(run("failover", "start", "shop", "--reason", "cli test",
                             "-o", "json").output)
    assert started["id"] == "failover-shop"
    run("failover", "start", "shop", code=4)  # one failover at a time: a conflict
    # An operator's terminal follows the run (stdin not a TTY: it prints how to approve).
    watcher = subprocess.Popen(
        [sys.executable, "-m", "vmdr", "failover", "status", "shop", "--watch"], cwd=ROOT,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(watcher.stdout), daemon=True)
    reader.start()
    try:
        hint = "approve with: python -m vmdr failover approve shop"
        for _ in range(600):  # the watcher says how to approve once the run waits for it
            if any(hint in line for line in lines) or watcher.poll() is not None:
                break
            threading.Event().wait(0.1)
        assert any(hint in line for line in lines), "".join(lines)
        run("failover", "approve", "shop", "--comment", "from the cli")
        watcher.wait(timeout=120)
        reader.join(timeout=10)
        out, err = "".join(lines), watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        watcher.stdout.close()
        watcher.stderr.close()
    print("\n" + out)  # what the operator saw (README shows it)
    assert watcher.returncode == 0, out + err
    for step in ("preflight", "approval", "shutdown", "final-copy", "health"):
        assert step in out
    assert "succeeded" in out and key not in out + err

    final = json.loads(run("failover", "status", "shop", "-o", "json").output)
    assert final["runtimeStatus"] == "Completed" and final["output"]["outcome"] == "succeeded"
    assert [g["state"] for g in final["status"]["groups"]] == ["recovered"] * 3
    run_id = final["output"]["run_id"]
    runs = json.loads(run("runs", "list", "shop", "-o", "json").output)
    assert [r["run_id"] for r in runs["runs"]] == [run_id, rejected["output"]["run_id"]]
    assert [r["outcome"] for r in runs["runs"]] == ["succeeded", rejected["output"]["outcome"]]
    shown = run("runs", "show", "shop", run_id).output
    assert "succeeded" in shown and "RTO" in shown
    report = json.loads(run("runs", "show", "shop", run_id, "-o", "json").output)
    assert report["approval"]["decision"] == "approved"

    # A wrong key: the auth exit code, one line, and neither key printed.
    wrong = runner.invoke(cli, ["plans", "list", "--key", "not-the-key-4711"], env=env)
    assert wrong.exit_code == 5, wrong.output
    assert "vmdr refused the function key" in wrong.stderr
    assert "not-the-key-4711" not in wrong.output + wrong.stderr and key not in wrong.stderr
