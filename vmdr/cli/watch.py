"""The live view of a failover or failback saga (`--watch`): its steps with state and duration,
each group's progress and the elapsed time, from the status route's custom status; and the
approval prompt when the run waits for one."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.text import Text

from vmdr.cli.client import Client
from vmdr.cli.output import between, console, duration, parse_time, plain, styled, table

ACTIVE = {"Running", "Pending", "ContinuedAsNew", "Suspended"}
POLL_SECONDS = 1.0


def is_active(status: dict[str, Any]) -> bool:
    return status.get("runtimeStatus") in ACTIVE


def awaiting(status: dict[str, Any]) -> bool:
    return is_active(status) and bool((status.get("status") or {}).get("awaiting"))


def view(status: dict[str, Any], now: datetime | None = None) -> Group:
    """What the screen shows for one status answer."""
    now = now or datetime.now(UTC)
    saga = status.get("status") or {}
    started = parse_time(status.get("createdTime"))
    ended = None if is_active(status) else parse_time(status.get("lastUpdatedTime"))
    elapsed = ((ended or now) - started).total_seconds() if started else None
    head = Text.from_markup(
        f"[bold]{saga.get('kind', 'failover')} of {saga.get('plan')}[/] {saga.get('run_id') or ''}"
        f"  {styled(status.get('runtimeStatus'))}  phase {styled(saga.get('phase'))}"
        f"  elapsed {duration(elapsed)}")
    parts: list[Any] = [head]
    steps = saga.get("steps") or []
    parts.append(table(None, ["step", "state", "duration"], [
        (step["name"], styled(step["state"]),
         duration(between(step["started"], step["ended"]) if step.get("ended")
                  else between(step["started"], now.isoformat())))
        for step in steps]))
    groups = saga.get("groups") or []
    if groups:
        parts.append(table(None, ["group", "state", "VMs", "recovered", "standbys",
                                  "scale sets"], [
            (g.get("name"), styled(g.get("state")), g.get("vms"), g.get("done_recovered", 0),
             g.get("done_standbys", 0), g.get("done_scale_sets", 0)) for g in groups]))
    wait = saga.get("awaiting")
    if wait and is_active(status):
        parts.append(Text.from_markup(
            f"[bold yellow]awaiting approval[/] until {wait.get('deadline')} "
            f"(on timeout: {wait.get('on_timeout')})"))
    output = status.get("output")
    if isinstance(output, dict) and output.get("outcome"):
        parts.append(Text.from_markup(f"outcome {styled(output['outcome'])}"
                                      + (f": {plain(output['failure'])}" if output.get("failure")
                                         else "")))
        # what blocked it in preflight (nothing was touched), what preflight could not check
        parts += [Text.from_markup(f"[red]blocker[/] {plain(b)}")
                  for b in output.get("blockers") or []]
        parts += [Text.from_markup(f"[yellow]warning[/] {plain(w)}")
                  for w in output.get("warnings") or []]
    return Group(*parts)


def watch(client: Client, kind: str, plan: str, prompt: bool = True) -> dict[str, Any]:
    """Follow the run until it ends; at an approval, ask (a TTY) or say how to answer."""
    out = console()
    told = False
    status = client.json("GET", f"plans/{plan}/{kind}")
    with Live(view(status), console=out, refresh_per_second=4, transient=False) as live:
        while is_active(status):
            if awaiting(status) and not told:
                told = True
                if prompt and sys.stdin.isatty():
                    live.stop()
                    decide(client, kind, plan)
                    live.start()
                else:
                    live.console.print(
                        f"approve with: python -m vmdr {kind} approve {plan}   "
                        f"reject with: python -m vmdr {kind} reject {plan}")
            time.sleep(POLL_SECONDS)
            status = client.json("GET", f"plans/{plan}/{kind}")
            live.update(view(status))
    return status


def decide(client: Client, kind: str, plan: str) -> None:
    answer = click.prompt(f"The {kind} of {plan} awaits approval: approve, reject or wait",
                          type=click.Choice(["approve", "reject", "wait"]), default="wait")
    if answer != "wait":
        comment = click.prompt("comment", default="", show_default=False)
        client.call("POST", f"plans/{plan}/{kind}/{answer}", body={"comment": comment})
