"""`plans list|show|put|validate|resolve` (and the offline `plan validate|show` of before)."""

from __future__ import annotations

from pathlib import Path

import click

from vmdr.cli import offline
from vmdr.cli.client import BAD_INPUT, CliFailure
from vmdr.cli.draft import draft_plan
from vmdr.cli.output import Session, plain, remote, styled, table
from vmdr.cli.resolve import resolve


@click.group("plans")
def plans() -> None:
    """Recovery plans stored in a running vmdr."""


@plans.command("list")
@remote
def list_plans(session: Session) -> None:
    """Every stored plan: valid or not, its VMs and RPO target."""
    data = session.client.json("GET", "plans")

    def render(out, data):
        out.print(table("plans", ["plan", "valid", "VMs", "RPO target (min)", "failover order"], [
            (p["name"], "yes" if p["valid"] else "[red]no[/]", len(p["vms"]),
             p["rpo_minutes_target"],
             " → ".join(p["failover_order"]) if p["failover_order"] else None)
            for p in data["plans"]]))
    session.emit(data, render)


@plans.command("show")
@click.argument("plan")
@remote
def show_plan(session: Session, plan: str) -> None:
    """A stored plan: its state in the lifecycle, VMs and their newest recovery point."""
    data = session.client.json("GET", f"plans/{plan}")

    def render(out, data):
        state = data.get("state") or {}
        out.print(f"[bold]{data['name']}[/]  state: {styled(state.get('state'))}"
                  f"  valid: {'yes' if data['valid'] else '[red]no[/]'}")
        if state.get("next"):
            out.print(f"next: {plain(state['next'])}")
        for problem in data.get("problems", []):
            out.print(f"[red]problem[/] {plain(problem.get('path'))}: "
                      f"{plain(problem.get('message'))}")
        out.print(table(None, ["VM", "strategy", "newest complete point"], [
            (vm["name"], vm["strategy"], (vm.get("newest_complete_point") or {}).get("rp_id"))
            for vm in data["vms"]]))
    session.emit(data, render)


@plans.command("put")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--name", help="the plan's name in the URL (default: the name in FILE)")
@remote
def put_plan(session: Session, file: str, name: str | None) -> None:
    """Store FILE (YAML or JSON) as a plan; every problem is printed with its path."""
    checked, problems = offline.read(file)
    if checked is None and not name:
        lines = [f"{file}: {len(problems)} problem(s); nothing was sent"]
        lines += [f"  {problem}" for problem in problems]
        raise CliFailure("\n".join(lines), BAD_INPUT)
    target = name or checked.name
    text = Path(file).read_bytes()
    kind = "application/json" if file.endswith(".json") else "application/yaml"
    response = session.client.call("PUT", f"plans/{target}", raw=text, content_type=kind)
    data = response.json()

    def render(out, data):
        verb = "created" if response.status_code == 201 else "updated"
        out.print(f"[green]{verb}[/] plan {data['name']}: {len(data['vms'])} VM(s), "
                  f"RPO target {data['rpo_minutes_target']} min")
    session.emit(data, render)


@plans.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def validate_plans(files: tuple[str, ...]) -> None:
    """Check plan files offline; print every problem with its path (exit 1 if any)."""
    raise SystemExit(offline.validate(files))


@click.group("plan", hidden=True)
def plan() -> None:
    """Plan files, offline (kept from before `plans`)."""


# `plan draft` (the name) and `plans draft` (listed in --help) are one command.
plan.add_command(draft_plan)
plans.add_command(draft_plan)
plans.add_command(resolve)


@plan.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def validate_files(files: tuple[str, ...]) -> None:
    """Check plans; print every problem with its path."""
    raise SystemExit(offline.validate(files))


@plan.command("show")
@click.argument("file", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="JSON instead of YAML")
def show_file(file: str, as_json: bool) -> None:
    """The normalised plan, failover and shutdown order."""
    raise SystemExit(offline.show(file, as_json))
