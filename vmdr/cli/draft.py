"""`python -m vmdr plan draft`: read an estate (the operator's credential; the local platform's
ARM settings on loopback) and write a plan per primary resource group, with the false-friends
report on stderr (a table), at the top of each plan (comments) and under `findings` (JSON).

Exit codes as the rest of the CLI: 0 drafted; 2 bad input (an option, a resource group or
subnet that is not there, an existing plan file with problems); 5 Azure or vmdr cannot be
reached, or refused the credential.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from vmdr import settings as app_settings
from vmdr.cli import offline
from vmdr.cli.client import BAD_INPUT, UNREACHABLE, Client, CliFailure
from vmdr.cli.output import plain, table
from vmdr.draft import request as options
from vmdr.draft.request import DraftRequest
from vmdr.draft.suggest import Draft, ExistingPlan, draft
from vmdr.plan import check_text

if TYPE_CHECKING:
    from vmdr.draft.result import DraftedPlan


@click.command("draft")
@click.option("--subscription", required=True, help="subscription of the primary VMs")
@click.option("--resource-group", "resource_groups", required=True, multiple=True,
              help="a primary resource group (repeat for several: one plan each)")
@click.option("--secondary-region", required=True, help="where the VMs are recovered")
@click.option("--secondary-resource-group", required=True,
              help="where recovered VMs, standbys and scale sets live")
@click.option("--secondary-subscription", default=None,
              help="subscription of the secondary resource group (default: --subscription)")
@click.option("--subnet-id", required=True, help="subnet of recovered VMs (secondary region)")
@click.option("--name", default=None,
              help="plan name (default: from the resource group, rg-shop-weu → shop-weu; with "
                   "several groups, a prefix)")
@click.option("--group-by-tag", default=options.DEFAULT_GROUP_TAG, show_default=True,
              help="VMs with the same value of this tag form a group")
@click.option("--one-group", default=None, help="every VM in one group of this name instead")
@click.option("--standby-tag", default=options.DEFAULT_STANDBY_TAG, show_default=True,
              help="a secondary VM with this tag is the standby of the primary VM it names")
@click.option("--schedule", default=options.DEFAULT_SCHEDULE, show_default=True,
              help="protect schedule (NCRONTAB, six fields)")
@click.option("--rpo-minutes", default=options.DEFAULT_RPO_MINUTES, show_default=True, type=int)
@click.option("--plan", "plan_files", multiple=True, type=click.Path(dir_okay=False),
              help="an existing plan file: its VMs are left out (repeatable)")
@click.option("--url", envvar="VMDR_URL", default=None,
              help="a running vmdr whose stored plans' VMs are left out (default: $VMDR_URL)")
@click.option("--key", envvar="VMDR_KEY", default=None, help="its function key ($VMDR_KEY)")
@click.option("--out", "out", default=None, type=click.Path(),
              help="write the plan here (a directory when several are drafted); default stdout")
@click.option("--output", "-o", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True, help="json: plan texts and findings, for scripts")
def draft_plan(subscription: str, resource_groups: tuple[str, ...], secondary_region: str,
               secondary_resource_group: str, secondary_subscription: str | None,
               subnet_id: str, name: str | None, group_by_tag: str, one_group: str | None,
               standby_tag: str, schedule: str, rpo_minutes: int,
               plan_files: tuple[str, ...], url: str | None, key: str | None, out: str | None,
               output: str) -> None:
    """Draft a recovery plan from what runs in Azure, with a false-friends report."""
    # The Azure SDKs and ruamel.yaml load only when a draft is made (every other command of
    # the CLI starts without them).
    from vmdr.azure import AzureClients
    from vmdr.draft.read import EstateError, read_estate
    from vmdr.draft.result import document, finish

    request = DraftRequest(
        subscription=subscription.strip(), resource_groups=[g.strip() for g in resource_groups],
        secondary_region=secondary_region.strip(),
        secondary_resource_group=secondary_resource_group.strip(),
        secondary_subscription=(secondary_subscription or subscription).strip(),
        subnet_id=subnet_id.strip(), name=name, group_by_tag=group_by_tag,
        one_group=one_group, standby_tag=standby_tag, schedule=schedule,
        rpo_minutes=rpo_minutes)
    problems = options.problems(request)
    if problems:
        raise CliFailure("\n".join(["the options have problems; nothing was read:",
                                    *[f"  {p}" for p in problems]]), BAD_INPUT)
    existing = _existing(plan_files, url, key)
    try:
        settings = app_settings.load_arm()
    except app_settings.SettingsError as exc:
        raise CliFailure(f"cannot reach Azure with these settings: {exc}", BAD_INPUT) from None
    try:
        estate = read_estate(AzureClients(settings), request)
    except EstateError as exc:
        raise CliFailure(str(exc), BAD_INPUT if exc.kind == "not-found" else UNREACHABLE) \
            from None
    whole = draft(request, estate, existing)
    drafted = finish(request, whole)
    broken = [d for d in drafted if d.problems]
    if broken:
        # An option at odds with the estate (--secondary-region is the VMs' region, a schedule
        # sparser than --rpo-minutes), or a resource group too big for one plan (256 KiB).
        lines = ["the drafted plan does not validate; nothing was written:"]
        lines += [f"  {d.draft.name}: {p}" for d in broken for p in d.problems]
        raise CliFailure("\n".join(lines), BAD_INPUT)
    if not drafted:
        _report(whole, drafted, {})
        raise CliFailure("nothing to draft: no VM or scale set of the resource group(s) can be "
                         "protected by vmdr (see the findings above)", BAD_INPUT)
    files = _write(drafted, out) if out else {}
    if output == "json":
        click.echo(json.dumps(document(whole, drafted, estate.arm_requests, files), indent=2))
    elif not out:
        click.echo("---\n".join(d.text for d in drafted), nl=False)
    _report(whole, drafted, files)


def _existing(plan_files: tuple[str, ...], url: str | None,
              key: str | None) -> list[ExistingPlan]:
    found = []
    for path in plan_files:
        plan, problems = offline.read(path)
        if plan is None:
            lines = [f"--plan {path}: {len(problems)} problem(s); fix it or leave it out:"]
            raise CliFailure("\n".join([*lines, *[f"  {p}" for p in problems]]), BAD_INPUT)
        found.append(ExistingPlan(plan, path))
    if url:
        client = Client(url, key)
        for entry in client.json("GET", "plans").get("plans") or []:
            stored = client.json("GET", f"plans/{entry['name']}")
            plan, _ = check_text(stored.get("source") or "")
            if plan is not None:  # a stored plan that no longer validates claims nothing
                found.append(ExistingPlan(plan, f"vmdr at {url}"))
    return found


def _write(drafted: list[DraftedPlan], out: str) -> dict[str, str]:
    target = Path(out)
    try:
        if len(drafted) == 1 and not target.is_dir():
            target.write_text(drafted[0].text)
            return {drafted[0].draft.name: str(target)}
        if target.exists() and not target.is_dir():
            raise CliFailure(f"--out {out}: {len(drafted)} plans were drafted (one per resource "
                             "group); give a directory", BAD_INPUT)
        target.mkdir(parents=True, exist_ok=True)
        files = {}
        for d in drafted:
            path = target / f"{d.draft.name}.yaml"
            path.write_text(d.text)
            files[d.draft.name] = str(path)
        return files
    except OSError as exc:
        raise CliFailure(f"--out {out}: cannot write ({exc.strerror})", BAD_INPUT) from None


def _report(whole: Draft, drafted: list[DraftedPlan], files: dict[str, str]) -> None:
    """The false friends as a table and one line per plan, on stderr (stdout holds the plan)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if whole.findings:
        err.print(table(f"false friends and what was left out ({len(whole.findings)})",
                        ["kind", "resource group", "name", "drafted", "what", "what to do"],
                        [(f.kind, plain(f.resource_group), plain(f.name),
                          "yes" if f.drafted else "no", plain(f.message), plain(f.action))
                         for f in whole.findings]))
    else:
        err.print("false friends: none found")
    if whole.vaults_unread:
        err.print(f"[yellow]Azure Backup[/]: {plain(whole.vaults_unread)}")
    err.print("existing plans read from: " + (plain(", ".join(whole.existing_from))
                                              if whole.existing_from else "none (--url, --plan)"))
    for d in drafted:
        where = files.get(d.draft.name, "stdout")
        err.print(f"[green]drafted[/] plan {d.draft.name} ({d.draft.resource_group}, "
                  f"{d.draft.region}): {len(d.draft.vm_names)} VM(s), "
                  f"{len(d.draft.scale_set_names)} scale set(s) in {len(d.draft.groups)} "
                  f"group(s) → {plain(where)}")
