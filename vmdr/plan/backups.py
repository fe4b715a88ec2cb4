"""Rules of a plan's application backup sets (`groups[].backups`) that a single field cannot
check: container and prefix names, set names unique in the plan, and where the copies land.

They run on the raw data (like `strategy_problems`), so they are reported even when another part
of the plan is broken. The set's models are here too; `Group.backups` holds them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, Field

from vmdr import arm_ids
from vmdr.plan.fields import Ncrontab, StorageAccountId, Strict

# Azure container names: 3-63 lowercase letters, digits and hyphens, starting with a letter or
# digit, every hyphen between two other characters (learn.microsoft.com, "Naming and referencing
# containers, blobs, and metadata").
CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
CONTAINER_RULE = ("3-63 lowercase letters, digits and hyphens, starting with a letter or digit, "
                  "no two hyphens in a row and none at the end")
# A blob name is at most 1,024 characters: a prefix leaves room for the backup's own name.
MAX_PREFIX = 512
BACKUP_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
BACKUP_NAME_RULE = "1-40 lowercase letters, digits and hyphens, starting and ending with a " \
                   "letter or digit"


def check_container(value: str) -> str:
    if not CONTAINER.match(value):
        raise ValueError(f"{value!r} is not a container name: {CONTAINER_RULE}")
    return value


def check_prefix(value: str) -> str:
    if len(value) > MAX_PREFIX:
        raise ValueError(f"a prefix is at most {MAX_PREFIX} characters (a blob name at most "
                         "1,024)")
    if value.startswith("/") or "\\" in value:
        raise ValueError(f"{value!r}: a prefix is the start of blob names, such as 'nightly/'; "
                         "no leading '/' and no '\\'")
    return value


def check_name(value: str) -> str:
    if not BACKUP_NAME.match(value):
        raise ValueError(f"{value!r} is not a backup set name: {BACKUP_NAME_RULE}")
    return value


def backup_problems(groups: list[Any]) -> list[tuple[str, str]]:
    """(path, sentence) for every rule across backup sets: names unique in the plan, the copies
    in another storage account than the backups, and no two sets writing to one place."""
    problems: list[tuple[str, str]] = []
    names: dict[str, str] = {}
    targets: list[tuple[str, tuple[str, str, str]]] = []
    for g, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("backups"), list):
            continue
        for b, spec in enumerate(group["backups"]):
            if not isinstance(spec, dict):
                continue
            path = f"groups[{g}].backups[{b}]"
            name = spec.get("name")
            if isinstance(name, str):
                if name.lower() in names:
                    problems.append((f"{path}.name", f"duplicate backup set name {name!r} "
                                                     f"(first at {names[name.lower()]})"))
                else:
                    names[name.lower()] = f"{path}.name"
            source, target = _place(spec.get("source")), _place(spec.get("target"))
            if source and target and source[0] == target[0]:
                problems.append((f"{path}.target.storage_account_id",
                                 "is the source's storage account too; the copies must be in "
                                 "another account, in the secondary region, to survive the loss "
                                 "of the primary"))
            if target:
                for other_path, other in targets:
                    if _overlap(target, other):
                        problems.append((f"{path}.target", f"writes where {other_path} does "
                                         "(same account and container, one prefix inside the "
                                         "other); give each set its own container or prefix"))
                        break
                targets.append((f"{path}.target", target))
    return problems


def _place(value: Any) -> tuple[str, str, str] | None:
    """(account id lowercased, container, prefix) of a raw source or target, if readable."""
    if not isinstance(value, dict):
        return None
    account, container = value.get("storage_account_id"), value.get("container")
    prefix = value.get("prefix") or ""
    if not (isinstance(account, str) and isinstance(container, str) and isinstance(prefix, str)):
        return None
    return account.strip().lower(), container.strip(), prefix.strip()


def _overlap(one: tuple[str, str, str], other: tuple[str, str, str]) -> bool:
    return one[:2] == other[:2] and (one[2].startswith(other[2]) or other[2].startswith(one[2]))


class BlobLocation(Strict):
    """A container in a storage account, and optionally the start of blob names in it: where an
    application writes its backups (source), or where vmdr copies them (target)."""

    storage_account_id: StorageAccountId
    container: Annotated[str, AfterValidator(check_container)]
    prefix: Annotated[str, AfterValidator(check_prefix)] = ""

    @property
    def account(self) -> str:
        return arm_ids.parse(self.storage_account_id).name


class BackupRetention(Strict):
    """Copies kept, by their backup's time in the source: the `keep_last` newest, and every one
    younger than `keep_days` days. The newest copy is never deleted."""

    keep_last: int = Field(3, ge=1, le=1000)
    keep_days: int = Field(7, ge=0, le=3650)


class BackupSpec(Strict):
    """Application backups copied blob to blob to the secondary region on a schedule (issue 14)."""

    name: Annotated[str, AfterValidator(check_name)]
    source: BlobLocation
    target: BlobLocation
    schedule: Ncrontab | None = None  # default: protection.schedule
    rpo_minutes: int | None = Field(None, ge=1)  # default: protection.rpo_minutes
    retention: BackupRetention = BackupRetention()


class BackupSet(NamedTuple):
    """A backup set with the plan's defaults filled in."""

    group: str
    spec: BackupSpec
    schedule: str
    rpo_minutes: int
