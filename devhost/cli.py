"""`python -m devhost start ...` and `python -m devhost instances ...`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

DEFAULT_STATE_DIR = Path(".state/devhost")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="serve a function app")
    start.add_argument("--app", type=Path, default=Path("function_app.py"))
    start.add_argument("--port", type=int, default=7071, help="0 picks a free port")
    start.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    start.add_argument("--ready-file", type=Path, help="JSON written once listening")
    start.add_argument(
        "--time-scale", type=float, help="virtual seconds per real second (default 1)"
    )
    start.add_argument("--clock", help="VirtualClock JSON (else VMDR_SIM_CLOCK, else saved)")
    start.add_argument("--settings", type=Path, help="local.settings.json (Values -> environment)")
    start.add_argument("--log-level", default=os.environ.get("DEVHOST_LOG_LEVEL", "INFO"))
    start.add_argument(
        "--easy-auth", type=Path,
        help="App Service authentication in front of the host: JSON of the principals it "
             "vouches for by bearer token (devhost/easyauth.py)")
    instances = commands.add_parser("instances", help="list orchestration instances")
    instances.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    return parser


def main(argv: list[str] | None = None) -> int:
    # `python -m` puts the working directory on sys.path; keep it absolute because the host
    # changes into the app directory (as the worker runs in the app root).
    sys.path[:] = [os.path.abspath(p) if p in ("", ".") else p for p in sys.path]
    args = _parser().parse_args(argv)
    if args.command == "instances":
        return _instances(args.state_dir)
    return _start(args)


def _start(args: argparse.Namespace) -> int:
    from devhost.host import HostOptions, serve_forever

    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    options = HostOptions(
        app=args.app.resolve(),
        state_dir=args.state_dir.resolve(),
        port=args.port,
        settings=args.settings.resolve() if args.settings else None,
        clock_json=args.clock,
        time_scale=args.time_scale,
        ready_file=args.ready_file.resolve() if args.ready_file else None,
        easy_auth=args.easy_auth.resolve() if args.easy_auth else None,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve_forever(options, stop)

    from devhost.easyauth import EasyAuthError
    from devhost.loader import LoadError
    from devhost.ncrontab import ScheduleError
    from devhost.settings import SettingsError

    try:
        asyncio.run(run())
    except (LoadError, SettingsError, ScheduleError, EasyAuthError) as exc:
        print(f"devhost: error: {exc}", file=sys.stderr)
        return 2
    # Everything is committed and the store closed. Do not wait for user threads still inside
    # an activity (the interpreter would join them): their work is re-run after a restart,
    # as the real host abandons in-flight work items at shutdown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _instances(state_dir: Path) -> int:
    from devhost.host import STATE_DB
    from devhost.store import Store

    path = state_dir / STATE_DB
    if not path.exists():
        print(f"no devhost state in {state_dir}", file=sys.stderr)
        return 1
    store = Store(path)
    try:
        rows = store.list_instances()
        width = max([len(row.instance_id) for row in rows] + [11])
        print(f"{'INSTANCE ID':<{width}}  {'STATUS':<14} {'NAME':<28} LAST UPDATED")
        for row in rows:
            print(
                f"{row.instance_id:<{width}}  {row.runtime_status:<14} {row.name:<28} "
                f"{row.last_updated_time}"
            )
    finally:
        store.close()
    return 0
