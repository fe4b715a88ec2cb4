"""A drafted plan as YAML text, each suggestion's reason as a comment next to it and the false
friends in a comment block at the top (ruamel.yaml: the well-kept library for commented YAML)."""

from __future__ import annotations

import io
import re
import textwrap

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from vmdr import regions
from vmdr.draft.request import DraftRequest
from vmdr.draft.suggest import Draft, PlanDraft

WIDTH = 98
# The example plan's retention and approval (examples/plans/shop.yaml): three points, a week of
# dailies; a person approves before anything changes.
RETENTION = {"keep_last": 3, "keep_daily": 7}
APPROVAL = {"required": True, "timeout_minutes": 30, "on_timeout": "abort"}


def render(request: DraftRequest, plan: PlanDraft, whole: Draft) -> str:
    doc = CommentedMap()
    doc.yaml_set_start_comment(_header(request, plan, whole))
    doc["name"] = plan.name
    doc["primary"] = CommentedMap(subscription_id=request.subscription, region=plan.region,
                                  resource_group=plan.resource_group)
    doc["secondary"] = CommentedMap(
        subscription_id=request.secondary_subscription,
        region=regions.normalise(request.secondary_region),
        resource_group=request.secondary_resource_group, subnet_id=request.subnet_id)
    protection = CommentedMap(schedule=DoubleQuotedScalarString(request.schedule),
                              rpo_minutes=request.rpo_minutes, consistency="snapshot-set",
                              copy_method="snapshot-copy", retention=CommentedMap(RETENTION))
    protection.yaml_add_eol_comment("NCRONTAB, six fields (seconds first)", "schedule")
    protection.yaml_add_eol_comment("every disk of a VM captured together", "consistency")
    doc["protection"] = protection
    doc["failover"] = CommentedMap(approval=CommentedMap(APPROVAL))
    _before(doc, "failover", "A person approves a failover before anything changes. Add "
            "alert_rules, health_checks and dns (README, Recovery plans) before storing it.", 0)
    groups = CommentedSeq()
    for index, group in enumerate(plan.groups):
        entry = CommentedMap(name=group.name)
        if group.vms:
            vms = CommentedSeq()
            for position, vm in enumerate(group.vms):
                vms.append(CommentedMap({"name": vm.name, **vm.fields}))
                _before(vms, position, f"{vm.name}: " + " — ".join(vm.reasons), 6)
            entry["vms"] = vms
        if group.scale_sets:
            scale_sets = CommentedSeq()
            for position, vmss in enumerate(group.scale_sets):
                scale_sets.append(CommentedMap(name=vmss.name, capacity=vmss.capacity))
                _before(scale_sets, position, f"{vmss.name}: " + " — ".join(vmss.reasons), 6)
            entry["scale_sets"] = scale_sets
        groups.append(entry)
        _before(groups, index, f"group {group.name}: {group.why}", 2)
    doc["groups"] = groups
    _before(doc, "groups", "Groups fail over in this order and shut down in reverse.", 0)
    yaml = YAML()
    yaml.width = 4096  # long ids stay on one line
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _header(request: DraftRequest, plan: PlanDraft, whole: Draft) -> str:
    vms, scale_sets = plan.read
    lines = [f"Drafted by `python -m vmdr plan draft` from resource group {plan.resource_group} "
             f"(subscription {request.subscription}): {vms} VM(s) and {scale_sets} scale set(s) "
             f"read; {len(plan.vm_names)} VM(s) and {len(plan.scale_set_names)} scale set(s) "
             "drafted. Review it, then store it: python -m vmdr plans put FILE",
             "Existing plans read from: " + (", ".join(whole.existing_from) if whole.existing_from
                                             else "none (give --url or --plan so that VMs other "
                                                  "plans cover are left out)")]
    mine = [f for f in whole.findings if f.resource_group.lower() == plan.resource_group.lower()]
    if whole.vaults_unread:
        lines.append(f"Azure Backup: {whole.vaults_unread}")
    lines.append(f"False friends and what was left out ({len(mine)}):" if mine else
                 "False friends: none found")
    lines += [f"- {finding.line()}" for finding in mine]
    return "\n".join(_wrapped(line) for line in lines)


def _before(parent, key, text: str, indent: int) -> None:
    parent.yaml_set_comment_before_after_key(key, before=_wrapped(text, WIDTH - indent),
                                             indent=indent)


def _wrapped(text: str, width: int = WIDTH) -> str:
    """One comment paragraph, wrapped, with anything that could end a comment removed (tag
    values and names come from the estate)."""
    clean = re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]+", " ", text).strip()
    return "\n".join(textwrap.wrap(clean, width, subsequent_indent="  ",
                                   break_on_hyphens=False, break_long_words=False)) or "-"
