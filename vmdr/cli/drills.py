"""`drill start|list`: the plan's VMs booted into the drill subnet, proven, and deleted after
keep_minutes (POST/GET /api/plans/{plan}/drills: 202 {"id", "statusQueryGetUri"}; the running
drill, past drills and the last proven point)."""

from __future__ import annotations

import click

from vmdr.cli.output import Session, remote, styled, table


@click.group("drill")
def drill() -> None:
    """Drills: recover into an isolated network without touching the primary."""


@drill.command("start")
@click.argument("plan")
@click.option("--recovery-point", default="latest", show_default=True,
              help='"latest" or a time with a timezone')
@click.option("--keep-minutes", type=click.IntRange(0, 24 * 60), default=None,
              help="how long the proven VMs are kept before they are deleted (default: the "
                   "plan's drill.keep_minutes, else 30)")
@remote
def start_drill(session: Session, plan: str, recovery_point: str,
                keep_minutes: int | None) -> None:
    """Start a drill of PLAN."""
    body = {"recovery_point": recovery_point}
    if keep_minutes is not None:
        body["keep_minutes"] = keep_minutes
    data = session.client.json("POST", f"plans/{plan}/drills", body=body)
    session.emit(data, lambda out, d: out.print(
        f"started drill {d.get('id')}; follow it with: python -m vmdr drill list {plan}"))


@drill.command("list")
@click.argument("plan")
@remote
def list_drills(session: Session, plan: str) -> None:
    """The drills of PLAN."""
    data = session.client.json("GET", f"plans/{plan}/drills")

    def render(out, data):
        current = data.get("current")
        if current:
            status = current.get("status") or {}
            out.print(f"running: {status.get('run_id')} ({status.get('phase')})")
        rows = [(d.get("run_id"), styled(d.get("outcome") or d.get("state")), d.get("started"),
                 d.get("ended")) for d in data.get("drills", [])]
        out.print(table("drills", ["run", "outcome", "started", "ended"], rows))
        proven = data.get("proven")
        if proven:
            out.print(f"last proven point: {proven['point_time']} (drill {proven['drill']})")
    session.emit(data, render)
