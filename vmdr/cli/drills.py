"""`drill start|list`: a test failover into an isolated network, torn down after keep_minutes.

The routes (POST/GET /api/plans/{plan}/drills) are built on another branch; this client follows
their agreed shape: POST {"recovery_point", "keep_minutes"} -> 202 {"run_id", ...};
GET -> {"drills": [...]}.
"""

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
@click.option("--keep-minutes", type=click.IntRange(1, 24 * 60), default=60, show_default=True,
              help="how long the drill's VMs are kept before they are torn down")
@remote
def start_drill(session: Session, plan: str, recovery_point: str, keep_minutes: int) -> None:
    """Start a drill of PLAN."""
    data = session.client.json("POST", f"plans/{plan}/drills",
                               body={"recovery_point": recovery_point,
                                     "keep_minutes": keep_minutes})
    session.emit(data, lambda out, d: out.print(f"started drill {d.get('run_id')}"))


@drill.command("list")
@click.argument("plan")
@remote
def list_drills(session: Session, plan: str) -> None:
    """The drills of PLAN."""
    data = session.client.json("GET", f"plans/{plan}/drills")

    def render(out, data):
        rows = [(d.get("run_id"), styled(d.get("outcome") or d.get("state")), d.get("started"),
                 d.get("ended")) for d in data.get("drills", [])]
        out.print(table("drills", ["run", "state", "started", "ended"], rows))
    session.emit(data, render)
