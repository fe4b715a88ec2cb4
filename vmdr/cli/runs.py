"""`runs list|show`: past failover and failback runs of a plan, and one run's report."""

from __future__ import annotations

import click

from vmdr.cli.output import Session, duration, plain, remote, styled, table


@click.group("runs")
def runs() -> None:
    """Past runs and their reports."""


@runs.command("list")
@click.argument("plan")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--after", help="the run id a page ends with (the `next` of the previous page)")
@remote
def list_runs(session: Session, plan: str, limit: int, after: str | None) -> None:
    """The runs of PLAN, newest first: outcome, RTO and worst RPO."""
    params = {"limit": limit, **({"after": after} if after else {})}
    data = session.client.json("GET", f"plans/{plan}/runs", params=params)

    def render(out, data):
        out.print(table(f"runs of {data['plan']}",
                        ["run", "outcome", "mode", "started", "RTO", "worst RPO"], [
            (r["run_id"], styled(r["outcome"]), r["mode"], r["started"],
             duration(r["rto_seconds"]), duration(r["rpo_max_seconds"]))
            for r in data["runs"]]))
        if data.get("next"):
            out.print(f"more: --after {data['runs'][-1]['run_id']}")
    session.emit(data, render)


@runs.command("show")
@click.argument("plan")
@click.argument("run_id")
@click.option("--markdown", is_flag=True, help="print the report as Markdown (report.md)")
@remote
def show_run(session: Session, plan: str, run_id: str, markdown: bool) -> None:
    """A run's report: outcome, steps, groups, RTO/RPO, what was compensated or is left."""
    if markdown and not session.as_json:
        click.echo(session.client.call("GET", f"plans/{plan}/runs/{run_id}/report.md").text)
        return
    data = session.client.json("GET", f"plans/{plan}/runs/{run_id}/report.json")
    session.emit(data, render_report)


def render_report(out, report: dict) -> None:
    out.print(f"[bold]{report.get('plan')}[/] {report.get('run_id')}: "
              f"{styled(report.get('outcome'))} ({report.get('kind', 'failover')}, "
              f"{report.get('mode')})")
    rto = report.get("rto") or {}
    if rto:
        seconds = rto.get("seconds_to_dns_switch", rto.get("seconds_to_healthy"))
        out.print(f"RTO {duration(seconds)} (to the {rto.get('basis')} switch)"
                  if rto.get("basis") == "dns" else f"RTO {duration(seconds)} (to healthy)")
    worst = max((row["rpo_seconds"] for row in report.get("rpo") or []), default=None)
    if worst is not None:
        out.print(f"worst RPO {duration(worst)} over {len(report['rpo'])} VM(s)")
    steps = report.get("steps") or []
    if steps:
        out.print(table("steps", ["step", "state", "started", "ended"], [
            (s.get("name"), styled(s.get("state")), s.get("started"), s.get("ended"))
            for s in steps]))
    if report.get("failure"):
        out.print(f"[red]failure[/] {plain(report['failure'])}")
    groups = report.get("groups") or []
    if groups:
        out.print(table("groups", ["group", "state", "VMs"], [
            (g.get("name"), styled(g.get("state")), g.get("vms")) for g in groups]))
    for item in report.get("compensations_run") or []:
        out.print(f"[magenta]compensated[/] {plain(item.get('description'))}")
    for item in report.get("left") or []:
        out.print(f"[bold red]left undone[/] {plain(item.get('description'))}: "
                  f"{plain(item.get('error'))}")
        for rid in item.get("remains") or []:
            out.print(f"  still there: {plain(rid)}")
