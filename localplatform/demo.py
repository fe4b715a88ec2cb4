"""`make demo`: the main job, end to end, on the local platform (DESIGN §6).

Starts Azurite, armsim (`python -m armsim serve`, seeded with examples/estate/demo.yaml) and
devhost (running function_app.py), then: writes distinct bytes to every primary disk, stores
examples/plans/shop.yaml, runs two protect cycles, takes the primary region down, sends an Azure
Monitor alert to the webhook, approves, waits for the failover, and checks — byte for byte, DNS,
health, standby size, scale-out, no call to the dead region, fencing once it comes back. Prints
the report and exits 0 only if every check held. Everything it started is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from azure.storage.blob import ContainerClient

from armsim.admin_client import AdminClient
from armsim.testing import ArmSimInfo, compute_client
from devhost.testing import start_devhost
from localplatform import azurite as azurite_launcher
from localplatform.app_settings import common_alert, local_app_settings
from localplatform.identity import demo_assignments
from vmdr.catalog import Catalog
from vmdr.clock import VirtualClock

ROOT = Path(__file__).resolve().parent.parent
ESTATE = ROOT / "examples" / "estate" / "demo.yaml"
PLAN = ROOT / "examples" / "plans" / "shop.yaml"
SUB = "00000000-0000-0000-0000-000000000001"
TIME_SCALE = 120.0  # one real second is two simulated minutes
APP_DISKS = ["shop-app-1-osdisk", "shop-app-1-data0", "shop-app-2-osdisk", "shop-app-2-data0"]


class Demo:
    def __init__(self, work: Path):
        self.work = work
        self.checks: list[tuple[str, bool, str]] = []
        self.stoppers: list[Callable[[], None]] = []

    def say(self, text: str) -> None:
        print(f"[demo {time.strftime('%H:%M:%S')}] {text}", flush=True)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, bool(ok), detail))
        print(f"    {'PASS' if ok else 'FAIL'}  {name}" + (f" — {detail}" if detail else ""),
              flush=True)
        return bool(ok)

    # --- the platform -------------------------------------------------------------------------

    def start_platform(self) -> None:
        self.say("starting Azurite (offline, 127.0.0.1)")
        self.azurite = azurite_launcher.start(location=self.work / "azurite")
        self.stoppers.append(self.azurite.stop)
        self.clock = VirtualClock.start(scale=TIME_SCALE)
        self.say(f"starting armsim with {ESTATE.relative_to(ROOT)} (time x{TIME_SCALE:g})")
        ready = self.work / "armsim.json"
        with open(self.work / "armsim.log", "wb") as log:
            armsim = subprocess.Popen(
                [sys.executable, "-m", "armsim", "serve", "--estate", str(ESTATE),
                 "--azurite", json.dumps(self.azurite.describe()),
                 "--clock", self.clock.to_json(), "--ready-file", str(ready),
                 "--state-dir", str(self.work / "armsim")],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.stoppers.append(lambda: _terminate(armsim))
        deadline = time.monotonic() + 60
        while not ready.exists():
            if armsim.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("armsim did not start; see " + str(self.work / "armsim.log"))
            time.sleep(0.1)
        self.arm = ArmSimInfo.from_file(ready)
        self.admin = AdminClient(self.arm.admin, self.arm.ca_bundle)
        self.say("starting devhost with function_app.py")
        settings = local_app_settings(self.azurite, self.arm)
        self.host = start_devhost(ROOT / "function_app.py", state_dir=self.work / "devhost",
                                  settings=settings, clock=self.clock)
        self.stoppers.append(lambda: self.host.alive() and self.host.stop())
        self.api = self.host.client
        self.catalog = Catalog(ContainerClient.from_connection_string(
            self.azurite.connection_string(), settings["VMDR_CATALOG_CONTAINER"]))

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                print(f"(while stopping: {exc})", file=sys.stderr)

    # --- the job ------------------------------------------------------------------------------

    def write_disks(self, label: str) -> dict[str, bytes]:
        written = {}
        for name in APP_DISKS:
            written[name] = f"{name} @ {label}".encode()
            disk = f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/" \
                   f"disks/{name}"
            self.admin.write_disk(disk, 0, written[name])
        return written

    def store_plan(self) -> None:
        plan = yaml.safe_load(PLAN.read_text())
        # The plan's health check stands for the application in the secondary region: here the
        # armsim stand-in of the shop app in northeurope, on loopback — which a plan must allow
        # explicitly (examples/plans/shop.yaml, a production plan, does not).
        plan["failover"]["health_checks"][0].update(
            url=f"{self.arm.admin}/apps/shop/health?region=northeurope", allow_loopback=True)
        response = self.api.call("PUT", "plans/shop", body=yaml.safe_dump(plan).encode(),
                                 headers={"Content-Type": "application/yaml"})
        self.check("plan stored (PUT /api/plans/shop)", response.status in (200, 201),
                   f"HTTP {response.status}")

    def protect(self, label: str) -> None:
        response = self.api.call("POST", "plans/shop/protect")
        self.check(f"protect cycle {label} started", response.status == 202)
        status = self.api.wait_for_completion("protect-shop", timeout=120)
        outcomes = {vm["vm"]: vm["outcome"] for vm in status["output"]["vms"]}
        self.check(f"protect cycle {label}: every VM protected",
                   set(outcomes.values()) == {"protected"}, str(outcomes))
        points = self.api.call("GET", "plans/shop/recovery-points").json()
        for vm in points["vms"]:
            self.say(f"  {vm['vm']}: RPO {vm['rpo_minutes']} min, newest {vm['newest_complete']}"
                     f", {len(vm['points'])} point(s)")

    def drill(self) -> None:
        self.say("a drill: the app VMs booted from their points into the drill subnet, proven, "
                 "deleted -> POST /api/plans/shop/drills")
        response = self.api.call("POST", "plans/shop/drills", json_body={"keep_minutes": 5})
        self.check("drill started", response.status == 202, f"HTTP {response.status}")
        output = self.api.wait_for_completion("drill-shop", timeout=180)["output"]
        report = self.api.call("GET", f"plans/shop/runs/{output['run_id']}/report.json").json()
        for row in report.get("proof", []):
            self.say(f"  {row['vm']}: booted {row['rp_id']} (point age {row['rpo_seconds']:.0f} s)"
                     f", running after {row['seconds_to_running']} s, ready after "
                     f"{row['seconds_to_ready']} s: {row['result']}")
        for row in report.get("not_drilled", []):
            self.say(f"  not drilled: {row['vm']} ({row['reason'].split(':')[0]})")
        self.check("drill proved every drilled VM", output["outcome"] == "succeeded"
                   and report.get("proven") is True,
                   output.get("failure") or f"outcome {output['outcome']}, proven "
                                            f"{report.get('proven')}")
        state = self.admin.state().get("resources", [])
        left = [r["id"] for r in (state.values() if isinstance(state, dict) else state)
                if "vmdr-drill" in (r.get("tags") or {})]
        self.check("drill left nothing behind", not left,
                   f"{len(left)} resource(s): {', '.join(r.rsplit('/', 1)[-1] for r in left)}")

    def fail_over(self, expected: dict[str, bytes]) -> dict:
        self.say("westeurope goes dark (armsim regional outage)")
        self.admin.start_outage("westeurope")
        since = max((e["seq"] for e in self.admin.operation_log()), default=0)
        # The action group's key: the alert function's own (infra/modules/alerts.bicep makes it
        # in Azure), which opens /api/alerts and no other route.
        alert_key = self.api.set_function_key("receive_alert", "alerts")
        self.say("Azure Monitor fires shop-weu-availability -> POST /api/alerts "
                 "(with the alert function's own key)")
        target = f"/subscriptions/{SUB}/resourcegroups/rg-shop-weu/providers/" \
                 "microsoft.compute/virtualmachines/shop-app-1"
        alert = common_alert("demo-0001", "shop-weu-availability", SUB, targets=(target,),
                             fired=self.clock.now().isoformat())
        response = self.api.call("POST", "alerts", json_body=alert, key=alert_key)
        # "At once": the webhook answered with the run to follow, not with its outcome (Azure
        # Monitor retries a slow webhook). Behaviour, not wall time, is what is checked.
        started = response.json().get("plans", [{}])[0] if response.status == 202 else {}
        self.check("alert accepted: a failover started, answered before the run ended",
                   started.get("action") == "started" and "statusUrl" in started,
                   f"HTTP {response.status}")
        retry = self.api.call("POST", "alerts", json_body=alert, key=alert_key)
        self.check("Azure Monitor's retry of the alert starts nothing more",
                   retry.status == 200 and retry.json()["plans"][0]["action"] == "duplicate")
        self.check("the alert key opens no other route (approve refused with it)",
                   self.api.call("POST", "plans/shop/failover/approve", json_body={},
                                 key=alert_key).status == 401)
        status = self.api.wait_for_custom_status(
            "failover-shop", lambda s: (s or {}).get("phase") == "awaiting-approval", timeout=60)
        self.say(f"awaiting approval until {status['customStatus']['awaiting']['deadline']}"
                 " -> POST /api/plans/shop/failover/approve")
        approved = self.api.call("POST", "plans/shop/failover/approve",
                                 json_body={"comment": "demo: go"})
        self.check("approval accepted", approved.status == 202)
        output = self.api.wait_for_completion("failover-shop", timeout=180)["output"]
        self.check("failover succeeded", output["outcome"] == "succeeded",
                   output.get("failure") or "")
        self.verify(output, expected, since)
        return output

    def verify(self, output: dict, expected: dict[str, bytes], since: int) -> None:
        compute = compute_client(self.arm)
        recovered = {r["vm"]: r for r in output["recovered"]}
        equal = True
        for vm in ("shop-app-1", "shop-app-2"):
            machine = compute.virtual_machines.get("rg-shop-neu", recovered[vm]["name"])
            disks = [machine.storage_profile.os_disk.managed_disk.id,
                     machine.storage_profile.data_disks[0].managed_disk.id]
            for disk, name in zip(disks, (f"{vm}-osdisk", f"{vm}-data0"), strict=True):
                got = self.admin.read_bytes(disk, 0, len(expected[name]))
                equal &= got == expected[name]
        self.check("recovered disks equal the last recovery point, byte for byte", equal)
        dns = [a["endpoint"] for a in self.admin.dns(SUB, "rg-shop-global", "tm-shop")["answers"]]
        self.check("Traffic Manager answers with the secondary", dns == ["shop-neu"], str(dns))
        healthy, details = self.admin.app_health("shop", "northeurope")
        self.check("the shop answers healthy in northeurope", healthy, str(details)[:200])
        standby = compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
        self.check("standby database resized to Standard_E4s_v5",
                   standby.hardware_profile.vm_size == "Standard_E4s_v5")
        web = compute.virtual_machine_scale_sets.get("rg-shop-neu", "shop-web")
        self.check("web scale set scaled out to 3", web.sku.capacity == 3)
        dark = [e for e in self.admin.operation_log(since_seq=since) if e["region"] == "westeurope"]
        self.check("nothing was asked of the dead region", not dark, f"{len(dark)} call(s)")

    def region_returns(self) -> None:
        self.say("westeurope recovers and Azure restarts its VMs")
        self.admin.end_outage("westeurope", restart_vms=True)
        dns = [a["endpoint"] for a in self.admin.dns(SUB, "rg-shop-global", "tm-shop")["answers"]]
        self.check("fenced: DNS still answers with the secondary (no split brain)",
                   dns == ["shop-neu"], str(dns))

    def come_home(self) -> None:
        """The way back, as an operator takes it (README "The way back"): re-protect, grant the
        failback role as README says, fail back, and find the plan protected again."""
        self.say("re-protect: copy the secondary back -> POST /api/plans/shop/reprotect")
        started = self.api.call("POST", "plans/shop/reprotect")
        self.check("re-protect started", started.status == 202, f"HTTP {started.status}")
        cycle = self.api.wait_for_completion("protect-shop.back", timeout=180)["output"]
        counts = cycle["counts"]
        self.check("re-protect: every recovered VM protected back to westeurope",
                   counts.get("protected") == counts["total"], str(cycle.get("failed_vms")))
        self.say("the operator grants the failback role (infra/roles/failback-primary.json) at "
                 "rg-shop-weu, as `azd provision` with assignFailbackRole=true does")
        self.admin.add_principal("vmdr", assignments=demo_assignments(SUB, failback=True))
        self.say("planned failback -> POST /api/plans/shop/failback")
        started = self.api.call("POST", "plans/shop/failback",
                                json_body={"reason": "demo: westeurope is back"})
        self.check("failback started", started.status == 202, f"HTTP {started.status}")
        self.api.wait_for_custom_status(
            "failback-shop", lambda s: (s or {}).get("phase") == "awaiting-approval", timeout=60)
        self.say("the plan asks for approval -> POST /api/plans/shop/failback/approve")
        approved = self.api.call("POST", "plans/shop/failback/approve",
                                 json_body={"comment": "demo: home"})
        self.check("failback approval accepted", approved.status == 202)
        done = self.api.wait_for_completion("failback-shop", timeout=300)["output"]
        self.check("failback succeeded", done["outcome"] == "succeeded",
                   done.get("failure") or f"{done['outcome']}: "
                   + "; ".join(f"{x.get('description')}: {x.get('error')}"
                               for x in done.get("left") or []))
        plan = self.api.call("GET", "plans/shop").json()
        self.check("the plan is protected again", plan["state"]["state"] == "protected",
                   plan["state"]["state"])
        # Traffic Manager's probes see the primary healthy again within a few probe intervals.
        deadline = time.monotonic() + 60
        while True:
            dns = [a["endpoint"] for a in
                   self.admin.dns(SUB, "rg-shop-global", "tm-shop")["answers"]]
            if dns == ["shop-weu"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.check("Traffic Manager answers with the primary again", dns == ["shop-weu"], str(dns))

    def wait_for_ctrl_c(self) -> None:
        ready, host = self.host.ready, self.host
        python = Path(sys.executable).relative_to(ROOT) if Path(sys.executable).is_relative_to(
            ROOT) else sys.executable
        print(f"\nStill running (Ctrl-C or SIGTERM to pid {os.getpid()} stops everything and "
              f"removes {self.work}):\n"
              f"  vmdr API   {ready.base_url}/api/plans?code={ready.function_key}\n"
              f"  armsim     {self.arm.endpoint} (admin {self.arm.admin}, CA {self.arm.ca_bundle})"
              f"\n  Azurite    {self.azurite.base_url}\n"
              f"  devhost    pid {host.pid}, state dir {host.state_dir}, log {host.log_path}\n"
              f"    from {ROOT} (a host you restart yourself is yours to stop):\n"
              f"    instances: {python} -m devhost instances --state-dir {host.state_dir}\n"
              f"    restart:   kill {host.pid}; {python} -m devhost start --app "
              f"{host.app} --port {host.port} --state-dir {host.state_dir} --settings "
              f"{host.settings_file} --clock '{host.clock}'", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    def print_report(self, output: dict) -> None:
        markdown = self.catalog.get_run_markdown("shop", output["run_id"])
        self.check("report written to the catalog", bool(markdown))
        print("\n" + "=" * 78 + "\n" + (markdown or "(no report)") + "=" * 78, flush=True)
        page = self.api.call("GET", f"plans/shop/runs/{output['run_id']}/report",
                             headers={"Accept": "text/html"})
        saved = ROOT / ".demo" / f"report-{output['run_id']}.html"
        saved.parent.mkdir(exist_ok=True)
        saved.write_text(page.text)
        self.check("HTML report served", page.status == 200 and "<html" in page.text.lower(),
                   f"HTTP {page.status}")
        self.say(f"HTML report (timeline, RPO per VM): {saved.relative_to(ROOT)}")
        self.say(f"the command line: python -m vmdr runs show shop {output['run_id']}")
        shown = subprocess.run(
            [sys.executable, "-m", "vmdr", "runs", "show", "shop", output["run_id"]],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "VMDR_URL": self.api.base_url, "VMDR_KEY": self.api.function_key,
                 "COLUMNS": "100"})
        print(shown.stdout, flush=True)
        self.check("python -m vmdr runs show answers", shown.returncode == 0,
                   shown.stderr.strip()[-200:])
        rto = (output.get("rto") or {}).get("seconds_to_dns_switch")
        bound = critical_path_seconds(self.admin.latency(), yaml.safe_load(PLAN.read_text()))
        if rto:
            self.say(f"RTO to the DNS switch {rto:.0f} s simulated; the critical-path lower "
                     f"bound from the same latency profile is {bound:.0f} s (ratio "
                     f"{rto / bound:.2f})")


def critical_path_seconds(latency: dict, plan: dict) -> float:
    """The shortest an unplanned failover of `plan` could take with armsim's latency profile:
    groups in plan order, the members of a group in parallel, each member's Azure operations in
    sequence (Traffic Manager changes and reads are not long-running: zero). vmdr's own overhead
    (polls, activity scheduling) is what the measured RTO adds to it."""
    disk = {"snapshot-copy": latency["disk_copy"], "blob": latency["disk_import"]}[
        plan["protection"].get("copy_method", "snapshot-copy")]
    if plan["protection"].get("consistency") == "restore-point" and \
            plan["protection"].get("copy_method", "snapshot-copy") == "snapshot-copy":
        disk = latency["disk_restore"]
    total = 0.0
    for group in plan["groups"]:
        members = []
        for vm in group.get("vms", []):
            if vm["strategy"] == "recover-from-copy":
                members.append(max(disk, latency["nic_create"]) + latency["vm_create"])
            else:
                members.append(latency["vm_deallocate"] + latency["vm_resize"]
                               + latency["vm_start"])
        members += [latency["scale_set_update"] + latency["scale_set_instance"]
                    for _ in group.get("scale_sets", [])]
        total += max(members, default=0.0)
    return total


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _interrupt(signum, frame) -> None:
    """SIGTERM as Ctrl-C: unwind through the `finally`s, which stop every process the demo
    started and remove its temporary folder (the default action would leave both behind)."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localplatform.demo", description=__doc__)
    parser.add_argument("--keep-running", action="store_true",
                        help="leave Azurite, armsim and devhost running afterwards (Ctrl-C or "
                             "SIGTERM stops them)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vmdr-demo-") as folder:
        demo = Demo(Path(folder))
        try:
            demo.start_platform()
            demo.write_disks("cycle 1")
            demo.store_plan()
            demo.protect("1")
            latest = demo.write_disks("cycle 2")
            demo.protect("2")
            demo.drill()
            output = demo.fail_over(latest)
            demo.print_report(output)
            demo.region_returns()
            demo.come_home()
            if args.keep_running:
                demo.wait_for_ctrl_c()
        except Exception as exc:
            demo.check("the demo ran to the end", False, f"{type(exc).__name__}: {exc}")
        except KeyboardInterrupt:
            demo.check("the demo ran to the end", False, "interrupted")
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping: do not interrupt that
            demo.stop()
    failed = [name for name, ok, _ in demo.checks if not ok]
    print(f"\n{len(demo.checks) - len(failed)}/{len(demo.checks)} checks passed in "
          f"{time.monotonic() - began:.0f} s of wall time")
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
