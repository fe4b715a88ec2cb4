"""Application backup sets in a plan (`groups[].backups`): defaults, and every problem with its
path and a sentence (tests/unit/test_plan.py's style)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_plan import DELETE
from tests.unit.test_plan import mutate as plan_mutate
from vmdr.plan import check_data, parse_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plans" / "backups.yaml"
SUB = "00000000-0000-0000-0000-000000000001"
WEU = f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Storage/" \
      "storageAccounts/shopbackupsweu"
NEU = f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu/providers/Microsoft.Storage/" \
      "storageAccounts/shopbackupsneu"


def good() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def mutate(*edits) -> dict[str, Any]:
    """The example backups plan changed by (dotted path, value) edits; DELETE removes a key."""
    return plan_mutate(*edits, base=good())


DB = "groups.0.backups.0"
FILES = "groups.1.backups.0"


def test_defaults_come_from_the_plan_and_a_group_may_hold_only_backups():
    plan = parse_plan(EXAMPLE.read_text())
    db, share = plan.backup_sets()
    assert (db.group, db.spec.name, db.schedule, db.rpo_minutes) == (
        "data", "db-dumps", "0 0 * * * *", 1500)
    # No schedule of its own: the plan's protection schedule; the retention's defaults.
    assert (share.group, share.schedule, share.rpo_minutes) == ("files", "0 0 */4 * * *", 1500)
    assert (share.spec.retention.keep_last, share.spec.retention.keep_days) == (3, 7)
    assert share.spec.source.prefix == "" and share.spec.target.prefix == "from-weu/"
    assert share.spec.source.account == "shopbackupsweu"
    assert plan.groups[1].vms == [] and plan.groups[1].scale_sets == []
    assert plan.backup_set("share-snapshots") == share
    # Both defaults at once: the plan's protection pair, valid by its own check.
    data = mutate((f"{FILES}.rpo_minutes", DELETE))
    parsed, problems = check_data(data)
    assert problems == [] and parsed.backup_sets()[1].rpo_minutes == 300


BROKEN = [
    # (id, edits, expected path, fragment of the message)
    ("bad set name", [(f"{DB}.name", "DB dumps")], "groups[0].backups[0].name",
     "is not a backup set name"),
    ("duplicate set name", [(f"{FILES}.name", "db-dumps")], "groups[1].backups[0].name",
     "duplicate backup set name 'db-dumps' (first at groups[0].backups[0].name)"),
    ("container with capitals", [(f"{DB}.source.container", "DB-Backups")],
     "groups[0].backups[0].source.container", "is not a container name: 3-63 lowercase"),
    ("container too short", [(f"{DB}.target.container", "db")],
     "groups[0].backups[0].target.container", "is not a container name"),
    ("container with two hyphens", [(f"{DB}.target.container", "db--backups")],
     "groups[0].backups[0].target.container", "no two hyphens in a row"),
    ("container ending in a hyphen", [(f"{DB}.source.container", "backups-")],
     "groups[0].backups[0].source.container", "is not a container name"),
    ("prefix with a leading slash", [(f"{DB}.source.prefix", "/nightly/")],
     "groups[0].backups[0].source.prefix", "no leading '/'"),
    ("prefix too long", [(f"{DB}.source.prefix", "x" * 600)],
     "groups[0].backups[0].source.prefix", "at most 512 characters"),
    ("source account not a storage account", [(f"{DB}.source.storage_account_id",
     f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d")],
     "groups[0].backups[0].source.storage_account_id", "Microsoft.Storage/storageAccounts"),
    ("copies into the source account", [(f"{DB}.target.storage_account_id", WEU)],
     "groups[0].backups[0].target.storage_account_id", "is the source's storage account too"),
    ("two sets write to one place", [(f"{FILES}.target.container", "db-backups"),
                                     (f"{FILES}.target.prefix", "")],
     "groups[1].backups[0].target", "writes where groups[0].backups[0].target does"),
    ("missing target", [(f"{DB}.target", DELETE)], "groups[0].backups[0].target", "required"),
    ("missing container", [(f"{DB}.source.container", DELETE)],
     "groups[0].backups[0].source.container", "required"),
    ("five-field schedule", [(f"{DB}.schedule", "0 * * * *")], "groups[0].backups[0].schedule",
     "has 5 fields"),
    ("rpo shorter than its schedule", [(f"{DB}.rpo_minutes", 30)],
     "groups[0].backups[0].rpo_minutes", "shorter than the longest interval of its schedule "
     "'0 0 * * * *' (60 minutes)"),
    ("rpo shorter than the plan's schedule", [(f"{FILES}.rpo_minutes", 120)],
     "groups[1].backups[0].rpo_minutes", "'0 0 */4 * * *' (240 minutes)"),
    ("keep_last zero", [(f"{DB}.retention.keep_last", 0)],
     "groups[0].backups[0].retention.keep_last", "should be at least 1"),
    ("keep_days negative", [(f"{DB}.retention.keep_days", -1)],
     "groups[0].backups[0].retention.keep_days", "should be at least 0"),
    ("typo suggests", [(f"{DB}.retention", {"keep_dais": 3})],
     "groups[0].backups[0].retention.keep_dais", "did you mean 'keep_days'"),
    ("empty group", [("groups.1.backups", [])], "groups[1]",
     "a group needs at least one VM, scale set or backup set"),
]


@pytest.mark.parametrize(("edits", "path", "fragment"), [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_broken_backup_sets_report_path_and_sentence(edits, path, fragment):
    plan, problems = check_data(mutate(*edits))
    assert plan is None
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path}: {problems}"
    assert any(fragment in p.message for p in matching), matching


def test_every_backup_problem_is_reported_at_once_even_beside_broken_fields():
    data = mutate((f"{DB}.source.container", "Bad"), (f"{FILES}.name", "db-dumps"),
                  (f"{FILES}.target.storage_account_id", WEU), ("primary.region", "mars"))
    _, problems = check_data(data)
    assert {p.path for p in problems} >= {
        "primary.region", "groups[0].backups[0].source.container", "groups[1].backups[0].name",
        "groups[1].backups[0].target.storage_account_id"}


def test_a_set_may_copy_within_one_target_account_into_separate_places():
    data = mutate((f"{FILES}.target.container", "db-backups"),
                  (f"{FILES}.target.prefix", "share/"), (f"{DB}.target.prefix", "db/"))
    _, problems = check_data(data)
    assert problems == []
    assert NEU in yaml.safe_dump(data)
