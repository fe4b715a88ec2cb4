"""`python -m bench.draft` (part of `make bench`): how long `python -m vmdr plan draft` takes
for armsim's 1,000-VM estate (ten resource groups of 100), with ARM throttling on as Azure sets
it. Prints the wall time — local CPU (the SDK reading 1,000 VMs) and armsim's answers — and the
ARM reads it cost; tests assert the reads (tests/app/test_plan_draft.py), never the time."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from armsim import estate as estate_module
from armsim.testing import start_armsim
from localplatform import azurite as azurite_launcher
from vmdr.cli import cli
from vmdr.clock import VirtualClock

SUB = estate_module.DEMO_SUBSCRIPTION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.draft", description=__doc__)
    parser.add_argument("--vms", type=int, default=1000)
    args = parser.parse_args(argv)
    groups = max(1, -(-args.vms // 100))
    with tempfile.TemporaryDirectory(prefix="vmdr-bench-draft-") as folder:
        azurite = azurite_launcher.start(location=Path(folder) / "azurite")
        clock = VirtualClock.start(scale=1.0, shared=True)
        sim = start_armsim(azurite.describe(), estate=estate_module.generate(args.vms),
                           clock=clock)
        try:
            sim.admin.set_throttling(True, clock="virtual")
            subnet = (f"/subscriptions/{SUB}/resourceGroups/rg-net-northeurope/providers/"
                      "Microsoft.Network/virtualNetworks/vnet-northeurope/subnets/app")
            options = ["plan", "draft", "--subscription", SUB, "--secondary-region",
                       "northeurope", "--secondary-resource-group", "rg-bulk-northeurope",
                       "--subnet-id", subnet, "--output", "json", "--out", folder + "/plans"]
            for group in range(groups):
                options += ["--resource-group", f"rg-bulk-{group:03d}"]
            env = {"VMDR_ARM_ENDPOINT": sim.info.endpoint, "VMDR_CA_BUNDLE": sim.info.ca_bundle,
                   "VMDR_LOCAL_TOKEN": sim.info.token("owner"), "VMDR_URL": None}
            wall = time.monotonic()
            result = CliRunner().invoke(cli, options, env=env)
            wall = time.monotonic() - wall
            if result.exit_code != 0:
                print(result.stderr, file=sys.stderr)
                return 1
            document = json.loads(result.stdout)
            log = sim.admin.operation_log()
        finally:
            sim.stop()
            azurite.stop()
            clock.discard()
    vms = sum(len(p["vms"]) for p in document["plans"])
    print(f"[bench] plan draft of {vms} VMs in {groups} resource groups: {wall:.1f} s wall, "
          f"{len(log)} ARM reads ({sum(1 for e in log if e['status'] == 429)} throttled), "
          f"{len(document['plans'])} plans, all valid: "
          f"{all(p['valid'] for p in document['plans'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
