"""`plans resolve PLAN`: the way out of needs-attention — what each option does first, then
(`--compensate` or `--accept STATE`) the one the operator chose (GET/POST
/api/plans/{plan}/lifecycle)."""

from __future__ import annotations

import click

from vmdr.cli.client import BAD_INPUT, CliFailure
from vmdr.cli.output import Session, console, plain, remote

STATES = ("protected", "failed-over", "reprotected")


def render_view(out, view: dict) -> None:
    out.print(f"plan {plain(view['plan'])} is [bold]{plain(view['state'])}[/] since "
              f"{plain(view.get('since') or '-')}")
    attention = view.get("attention")
    if not attention:
        out.print(f"next: {plain(view['next'])}")
        return
    out.print(f"run {plain(attention['run_id'])} ({plain(attention['kind'])}) needs attention; "
              f"its report: {plain(attention['report'])}")
    for side, ids in (attention.get("found") or {}).items():
        out.print(f"  tagged with it in the {plain(side)} region: {len(ids)}")
    for option in view.get("options") or []:
        if option["action"] == "compensate":
            out.print(f"\n[bold]--compensate[/]: {plain(option['does'])}")
            for index, step in enumerate(option["runs"], 1):
                out.print(f"  {index}. {plain(step)}")
        else:
            out.print(f"\n[bold]--accept STATE[/] ({', '.join(option['states'])}): "
                      f"{plain(option['does'])}")


@click.command("resolve")
@click.argument("plan")
@click.option("--compensate", is_flag=True,
              help="run what the run left (the list shown without this option), then the plan "
                   "is back where it was before that run")
@click.option("--accept", "accept", type=click.Choice(STATES), default=None,
              help="change nothing in Azure; record the plan in this state")
@click.option("--comment", default="", help="why (kept in the plan's history)")
@click.option("--yes", "-y", is_flag=True, help="do not ask before compensating")
@remote
def resolve(session: Session, plan: str, compensate: bool, accept: str | None, comment: str,
            yes: bool) -> None:
    """Show what resolving PLAN would do; with --compensate or --accept, do it."""
    if compensate and accept:
        raise CliFailure("choose one: --compensate or --accept STATE", BAD_INPUT)
    view = session.client.json("GET", f"plans/{plan}/lifecycle")
    if not compensate and not accept:
        session.emit(view, render_view)
        return
    if compensate:
        if not session.as_json and not yes:
            render_view(console(), view)
            click.confirm("\nRun these compensations now?", abort=True)
        data = session.client.json("POST", f"plans/{plan}/lifecycle",
                                   body={"action": "compensate", "comment": comment})
        session.emit(data, lambda out, d: out.print(
            f"compensating ({plain(d['id'])}); follow it: python -m vmdr plans resolve {plan}"))
        return
    data = session.client.json("POST", f"plans/{plan}/lifecycle",
                               body={"action": "accept", "state": accept, "comment": comment})
    session.emit(data, lambda out, d: out.print(f"plan {plan} is {plain(d['state'])}; next: "
                                                f"{plain(d['next'])}"))
