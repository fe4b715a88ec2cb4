"""`protect now|status`: a protect cycle on demand, and each VM's (and backup set's) RPO against its
target."""

from __future__ import annotations

import click
from rich.markup import escape

from vmdr.cli.output import Session, remote, table


@click.group("protect")
def protect() -> None:
    """Protect cycles and recovery points."""


@protect.command("now")
@click.argument("plan")
@remote
def protect_now(session: Session, plan: str) -> None:
    """Start a protect cycle of PLAN now (it runs in the app; `protect status` follows it)."""
    data = session.client.json("POST", f"plans/{plan}/protect")
    session.emit(data, lambda out, d: out.print(f"started protect cycle {d['id']}"))


@protect.command("images")
@click.argument("plan")
@remote
def protect_images(session: Session, plan: str) -> None:
    """Capture every strategy-image VM of PLAN into its gallery now (an image cycle)."""
    data = session.client.json("POST", f"plans/{plan}/images")
    session.emit(data, lambda out, d: out.print(f"started image cycle {d['id']}"))


@protect.command("status")
@click.argument("plan")
@remote
def protect_status(session: Session, plan: str) -> None:
    """Each VM's RPO and newest complete recovery point; over the target in red."""
    data = session.client.json("GET", f"plans/{plan}/recovery-points")

    def render(out, data):
        target = data.get("rpo_minutes_target")
        rows = []
        for vm in data["vms"]:
            rpo = "none" if vm["rpo_minutes"] is None else f"{vm['rpo_minutes']:.1f}"
            if vm["over_rpo"]:
                rpo = f"[bold red]{rpo}[/]"
            retired = sum(1 for p in vm["points"] if p.get("retired"))
            rows.append((vm["vm"], rpo, vm["newest_complete"], f"{len(vm['points'])}"
                         + (f" ({retired} retired)" if retired else "")))
        out.print(table(f"{data['plan']}: RPO target {target} min",
                        ["VM", "RPO (min)", "newest complete point", "points"], rows))
        for vm in data["vms"]:
            if vm.get("retention_error"):
                out.print(f"[yellow]{vm['vm']}: retention could not delete:[/] "
                          f"{escape(vm['retention_error'])} (retired points are not used; the next "
                          "cycle asks again)")
        cycle = data.get("last_cycle")
        if cycle:
            out.print(f"last cycle {cycle['cycle_id']}: started {cycle['started']}, "
                      f"ended {cycle.get('ended') or '-'}, counts {cycle.get('counts')}")
        images = data.get("images") or []
        if images:
            image_rows = []
            for row in images:
                age = "none" if row["rpo_minutes"] is None else f"{row['rpo_minutes']:.1f}"
                if row["over_rpo"]:
                    age = f"[bold red]{age}[/]"
                image_rows.append((row["vm"], age, f"{row['rpo_minutes_target']:g}"
                                   if row["rpo_minutes_target"] is not None else "-",
                                   row["newest_usable"] or "none", len(row["versions"])))
            out.print(table("images (strategy image)", ["VM", "age (min)", "target (min)",
                                                         "newest usable version", "versions"],
                            image_rows))
        over = [vm["vm"] for vm in data["vms"] + images if vm["over_rpo"]]
        if over:
            out.print(f"[bold red]{len(over)} VM(s) over the RPO target:[/] {', '.join(over)}")
        if data.get("backups"):
            backups(out, data["backups"])
    session.emit(data, render)


def backups(out, sets: list[dict]) -> None:
    """Application backup sets: each one's RPO against its own target, the newest copy, and
    why copies fail when they do."""
    rows = []
    for backup in sets:
        rpo = "none" if backup["rpo_minutes"] is None else f"{backup['rpo_minutes']:.1f}"
        if backup["over_rpo"]:
            rpo = f"[bold red]{rpo}[/]"
        newest = backup["newest"]
        problem = backup["error"] or (f"{backup['failed_count']} failed: "
                                      f"{backup['failed'][0]['error']}"
                                      if backup["failed_count"] else "")
        rows.append((backup["backup"], backup["group"], rpo, str(backup["rpo_minutes_target"]),
                     escape(f"{newest['source_blob']} ({newest['last_modified']})")
                     if newest else "none",
                     str(backup["copies"]), str(backup["in_flight"]), escape(problem)))
    out.print(table("application backups", ["backup set", "group", "RPO (min)", "target (min)",
                                            "newest copied", "copies", "in flight", "problem"],
                    rows))
    over = [b["backup"] for b in sets if b["over_rpo"]]
    if over:
        out.print(f"[bold red]{len(over)} backup set(s) over the RPO target:[/] "
                  f"{', '.join(over)}")
