"""`failover start|status|approve|reject|abort`, the same for `failback`, and `reprotect`."""

from __future__ import annotations

import click

from vmdr.cli import watch as live
from vmdr.cli.client import OK, RUN_FAILED
from vmdr.cli.output import Session, remote

FAILED = {"Failed", "Terminated"}


def outcome_code(status: dict) -> int:
    """0 when the run succeeded (or still runs), 1 when it failed or was rolled back."""
    output = status.get("output")
    if status.get("runtimeStatus") in FAILED:
        return RUN_FAILED
    if isinstance(output, dict) and output.get("outcome") not in (None, "succeeded"):
        return RUN_FAILED
    return OK


def finish(session: Session, kind: str, plan: str, watch: bool) -> None:
    if watch and not session.as_json:
        status = live.watch(session.client, kind, plan)
    else:
        status = session.client.json("GET", f"plans/{plan}/{kind}")
        if watch:  # json: follow quietly, print the last status
            status = _follow(session, kind, plan, status)
        session.emit(status, lambda out, s: out.print(live.view(s)))
    raise SystemExit(outcome_code(status))


def _follow(session: Session, kind: str, plan: str, status: dict) -> dict:
    import time
    while live.is_active(status):
        time.sleep(live.POLL_SECONDS)
        status = session.client.json("GET", f"plans/{plan}/{kind}")
    return status


def saga_group(kind: str) -> click.Group:
    group = click.Group(kind, help=f"The {kind} saga of a plan: start, follow and steer it.")
    watch_option = click.option("--watch", "-w", is_flag=True,
                                help="follow the run live until it ends (exit 1 if it failed)")

    @group.command("start")
    @click.argument("plan")
    @click.option("--reason", default="", help="why (kept in the run's report)")
    @watch_option
    @remote
    def start(session: Session, plan: str, reason: str, watch: bool, **extra) -> None:
        body = {"reason": reason} if reason else {}
        if kind == "failover":
            body["mode"] = extra["mode"]
            if extra.get("recovery_point"):
                body["recovery_point"] = extra["recovery_point"]
        data = session.client.json("POST", f"plans/{plan}/{kind}", body=body)
        if not watch:
            session.emit(data, lambda out, d: out.print(
                f"started {d['id']}; follow it: python -m vmdr {kind} status {plan} --watch"))
            return
        finish(session, kind, plan, watch)

    start.help = f"Start a {kind} of PLAN."
    if kind == "failover":
        start.params[1:1] = [
            click.Option(["--mode"], type=click.Choice(["planned", "unplanned"]),
                         default="planned", show_default=True,
                         help="planned: the primary is shut down and copied last; unplanned: "
                              "the primary region is not asked for anything"),
            click.Option(["--recovery-point"], default=None,
                         help='"latest" (default) or a time with a timezone: the newest '
                              "complete point at or before it")]

    @group.command("status")
    @click.argument("plan")
    @watch_option
    @remote
    def status(session: Session, plan: str, watch: bool) -> None:
        finish(session, kind, plan, watch)

    status.help = f"The current or last {kind} of PLAN (exit 1 if it failed or rolled back)."

    for action, text in (("approve", "Approve the run waiting for approval."),
                         ("reject", "Reject the run waiting for approval (nothing is changed)."),
                         ("abort", "Abort the run: what it did is rolled back.")):
        group.add_command(_steer(kind, action, text))
    return group


def _steer(kind: str, action: str, text: str) -> click.Command:
    @click.command(action, help=text)
    @click.argument("plan")
    @click.option("--comment", default="", help="kept in the run's report")
    @remote
    def steer(session: Session, plan: str, comment: str) -> None:
        data = session.client.json("POST", f"plans/{plan}/{kind}/{action}",
                                   body={"comment": comment})
        session.emit(data, lambda out, d: out.print(f"{action}: sent to {d['instanceId']}"))
    return steer


failover = saga_group("failover")
failback = saga_group("failback")


@click.command("reprotect")
@click.argument("plan")
@remote
def reprotect(session: Session, plan: str) -> None:
    """After a failover: copy the running VMs back to the primary region (a reverse cycle)."""
    data = session.client.json("POST", f"plans/{plan}/reprotect")
    session.emit(data, lambda out, d: out.print(f"started reverse protect cycle {d['id']}"))
