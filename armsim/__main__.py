"""`python -m armsim serve [...]`: run armsim until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import yaml

from armsim.storage import DEFAULT_BYTES_PER_GIB
from vmdr.clock import SIM_CLOCK_SETTING, VirtualClock


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m armsim",
                                     description="Local Azure Resource Manager simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve ARM over HTTPS on 127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--ready-file", help="write the ready JSON here once listening")
    serve.add_argument("--estate", help="estate YAML to seed at start")
    serve.add_argument("--time-scale", type=float, default=1.0,
                       help="virtual seconds per real second for a new clock (default 1)")
    serve.add_argument("--clock", help=f"a VirtualClock JSON (else ${SIM_CLOCK_SETTING})")
    serve.add_argument("--latency-profile", help="YAML/JSON file of latency settings")
    serve.add_argument("--azurite", help="AzuriteServer.describe() JSON, or a file holding it; "
                       "without it armsim starts its own Azurite")
    serve.add_argument("--state-dir", help="the CA and leaf certificates, the final state "
                       "dump (state.json) and, when armsim starts its own, Azurite's data")
    serve.add_argument("--principal", action="append", default=[],
                       metavar="NAME=ROLE[@SCOPE]",
                       help="declare a principal: ROLE is * or a role JSON file, assigned at "
                       "SCOPE (default /); repeat a NAME to add assignments (the first "
                       "replaces the estate's principal of that name)")
    serve.add_argument("--bytes-per-gib", type=int, default=DEFAULT_BYTES_PER_GIB,
                       help="page-blob bytes per simulated GiB (default 1 MiB)")
    return parser


def _clock(args: argparse.Namespace) -> VirtualClock:
    text = args.clock or os.environ.get(SIM_CLOCK_SETTING, "").strip()
    if text:
        return VirtualClock.from_json(text)
    return VirtualClock.start(scale=args.time_scale)


def _azurite_description(value: str) -> dict:
    path = Path(value)
    text = path.read_text() if not value.lstrip().startswith("{") and path.exists() else value
    return json.loads(text)


def serve(args: argparse.Namespace) -> int:
    from armsim import estate as estate_module
    from armsim.errors import InvalidParameter
    from armsim.runner import ServerThread
    from armsim.simulator import build_simulator

    logging.basicConfig(level=logging.INFO, format="armsim: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    own_azurite = None
    owns_state_dir = not args.state_dir
    state_dir = Path(args.state_dir or tempfile.mkdtemp(prefix="armsim-state-"))
    if args.azurite:
        azurite = _azurite_description(args.azurite)
    else:
        from localplatform import azurite as azurite_launcher

        own_azurite = azurite_launcher.start(location=state_dir / "azurite")
        azurite = own_azurite.describe()
    server = None
    try:
        clock = _clock(args)
        sim = build_simulator(clock, azurite, args.bytes_per_gib)
        if args.latency_profile:
            sim.registry.latency.update(yaml.safe_load(Path(args.latency_profile).read_text())
                                        or {})
        with sim.registry.lock:
            sim.registry.principals.add("owner", "*")
            if args.estate:
                estate_module.seed(sim.services, estate_module.load(args.estate))
            declared: set[str] = set()
            for spec in args.principal:
                name, _, assignment = spec.partition("=")
                role, _, scope = assignment.partition("@")
                if not name or not role:
                    raise InvalidParameter(f"--principal {spec}: NAME=ROLE[@SCOPE], ROLE '*' or "
                                           "a role JSON file")
                if name in declared:
                    sim.registry.principals.assign(name, role, scope or "/")
                else:
                    sim.registry.principals.add(name, role, scopes=[scope or "/"])
                    declared.add(name)
        server = ServerThread(sim, state_dir, args.port).start()
        with sim.registry.lock:
            info = {"endpoint": server.endpoint,
                    "ca_bundle": str(server.certificates.ca_path),
                    "admin": f"{server.endpoint}/_armsim",
                    "subscriptions": list(sim.registry.subscription_names.values()),
                    "tokens": sim.registry.principals.tokens(),
                    "clock": clock.to_json(),
                    "azurite": azurite}
        if args.ready_file:
            ready = Path(args.ready_file)
            partial = ready.with_suffix(ready.suffix + ".tmp")
            partial.write_text(json.dumps(info, indent=2))
            partial.replace(ready)  # atomic: readers never see half a file
        logging.info("listening on %s (admin %s/_armsim)", server.endpoint, server.endpoint)
        while not stop.wait(0.5):
            pass
        logging.info("stopping")
        return 0
    finally:
        if server is not None:
            server.stop()
            if not owns_state_dir:
                _dump_state(server.sim, state_dir / "state.json")
        if own_azurite is not None:
            own_azurite.stop()
        if owns_state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def _dump_state(sim, path: Path) -> None:
    """Leave the final resources behind for post-mortems (best effort)."""
    try:
        with sim.registry.lock:
            resources = [r.to_rest(sim.registry) for r in sim.registry.resources.values()]
        path.write_text(json.dumps({"resources": resources}, indent=1, default=str))
    except Exception as exc:  # a dump must never block shutdown
        logging.warning("could not write %s: %s", path, exc)


def main(argv: list[str] | None = None) -> int:
    from armsim.errors import ArmError

    args = _parser().parse_args(argv)
    if args.command == "serve":
        try:
            return serve(args)
        except ArmError as exc:  # a refused estate or principal: say why, no traceback
            print(f"armsim: {exc.code}: {exc.message}", file=sys.stderr)
            return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
