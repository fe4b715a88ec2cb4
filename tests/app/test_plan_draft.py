"""`python -m vmdr plan draft` through the real azure-mgmt clients against armsim: the demo
estate's draft validates and covers every VM and the scale set; the false friends (an
unmanaged-disk VM, a VM only a same-region vault protects, a VM of another plan) are flagged;
bad input is a sentence and an exit code; a 1,000-VM estate costs a few reads per resource group.
The CLI runs in-process (click's runner) with the settings an operator exports for the local
platform, under a principal holding only the read actions README lists."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import yaml
from azure.mgmt.compute import models as cm
from click.testing import CliRunner

from armsim import estate as estate_module
from vmdr.cli import cli
from vmdr.plan import check_text

SUB = "00000000-0000-0000-0000-000000000001"
NEU_SUBNET = (f"/subscriptions/{SUB}/resourceGroups/rg-net-neu/providers/Microsoft.Network/"
              "virtualNetworks/vnet-neu/subnets/app")
WEU_SUBNET = NEU_SUBNET.replace("neu", "weu")
# What the operator's credential needs (README, Drafting a plan): reads only.
DRAFTER = {"Name": "vmdr plan draft", "Actions": [
    "Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachineScaleSets/read",
    "Microsoft.Network/virtualNetworks/subnets/read", "Microsoft.RecoveryServices/Vaults/read",
    "Microsoft.RecoveryServices/Vaults/backupProtectedItems/read"]}
DEMO = ["--subscription", SUB, "--resource-group", "rg-shop-weu",
        "--secondary-region", "northeurope", "--secondary-resource-group", "rg-shop-neu",
        "--subnet-id", NEU_SUBNET]


def comments(text: str) -> list[str]:
    """The YAML's comments, one per paragraph (wrapped lines joined)."""
    found: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#   ") and found:
            found[-1] += " " + stripped[4:]
        elif stripped.startswith("# "):
            found.append(stripped[2:])
    return found


def draft(arm, *args: str, code: int = 0, endpoint: str | None = None, role: dict = DRAFTER):
    token = arm.admin.add_principal("drafter", role=role, scopes=[f"/subscriptions/{SUB}"])
    env = {"VMDR_ARM_ENDPOINT": endpoint or arm.info.endpoint,
           "VMDR_CA_BUNDLE": arm.info.ca_bundle, "VMDR_LOCAL_TOKEN": token["token"],
           "VMDR_URL": None, "VMDR_KEY": None}
    result = CliRunner().invoke(cli, ["plan", "draft", *args], env=env, catch_exceptions=False)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_the_demo_estate_drafts_a_plan_that_validates_and_covers_every_vm(arm, tmp_path):
    arm.compute.virtual_machines.begin_update("rg-shop-neu", "shop-db-standby",
                                              cm.VirtualMachineUpdate(tags={
                                                  "app": "shop", "role": "db",
                                                  "vmdr-standby-for": "shop-db-1"})).result()
    arm.admin.clear_operation_log()
    out = tmp_path / "shop.yaml"

    result = draft(arm, *DEMO, "--group-by-tag", "role", "--out", str(out))

    text = out.read_text()
    plan, problems = check_text(text)
    assert problems == [] and plan is not None
    assert plan.name == "shop-weu" and plan.primary.region == "westeurope"
    assert (plan.secondary.region, plan.secondary.subnet_id) == ("northeurope", NEU_SUBNET)
    # Every VM and the scale set of the primary resource group, data tier first.
    assert [g.name for g in plan.groups] == ["db", "app", "web"]
    assert sorted(vm.name for vm in plan.vms()) == ["shop-app-1", "shop-app-2", "shop-db-1"]
    assert [(s.name, s.capacity) for s in plan.groups[2].scale_sets] == [("shop-web", 3)]
    db = plan.vm("shop-db-1")
    assert (db.strategy, db.standby_vm, db.standby_size, db.target_size) == \
        ("standby-resize", "shop-db-standby", "Standard_B2s", "Standard_E4s_v5")
    app = plan.vm("shop-app-1")
    assert (app.strategy, app.target_size, app.clean_copy) == \
        ("recover-from-copy", "Standard_D4s_v5", None)
    # Each suggestion's reason is a comment above it.
    notes = comments(text)
    assert any(n.startswith("shop-db-1: standby-resize: shop-db-standby in rg-shop-neu names "
                            "it in its standby tag; it is resized from Standard_B2s")
               for n in notes)
    assert any(n.startswith("shop-app-1: recover-from-copy: its 2 disks are copied") and
               "snapshot-set: its 2 disks are captured together" in n for n in notes)
    assert any(n.startswith("shop-web: scale set with 3 instance(s)") and
               "rg-shop-neu has scale set shop-web (capacity 0 now)" in n for n in notes)
    assert "group db: VMs tagged role=db; a data tier: fails over first" in notes
    assert "False friends: none found" in notes
    assert "drafted plan shop-weu (rg-shop-weu, westeurope): 3 VM(s), 1 scale set(s) in 3 " \
        f"group(s) → {out}" in result.stderr
    # Reads only, a few lists: never a GET per VM.
    log = arm.admin.operation_log()
    assert {e["method"] for e in log} == {"GET"} and {e["status"] for e in log} == {200}
    assert {e["principal"] for e in log} == {"drafter"}
    assert sorted(e["action"] for e in log) == sorted([
        "Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Compute/virtualMachineScaleSets/read",
        "Microsoft.Compute/virtualMachineScaleSets/read",
        "Microsoft.Network/virtualNetworks/subnets/read",
        "Microsoft.RecoveryServices/Vaults/read"])


def test_false_friends_are_flagged_and_left_out(arm, tmp_path):
    vhd = "https://legacyweu.blob.core.windows.net/vhds"
    arm.admin.seed({
        "resource_groups": {"rg-backup-weu": "westeurope"},
        "vms": [{"name": "legacy-1", "resource_group": "rg-shop-weu", "tags": {"tier": "app"},
                 "os_disk": {"vhd": f"{vhd}/legacy-1-os.vhd"},
                 "data_disks": [{"lun": 0, "vhd": f"{vhd}/legacy-1-data0.vhd"}],
                 "nics": [{"subnet": WEU_SUBNET, "private_ip": "10.1.0.99"}]}],
        "recovery_services_vaults": [{"name": "rsv-weu", "resource_group": "rg-backup-weu",
                                      "redundancy": "LocallyRedundant",
                                      "protected_vms": ["shop-app-2", "shop-db-1"]}]})
    other = yaml.safe_load(Path("examples/plans/shop.yaml").read_text())
    other.update(name="shop-db", groups=[{"name": "data", "vms": [  # Azure ignores case
        {"name": "Shop-DB-1", "strategy": "recover-from-copy"}]}])
    other.pop("drill")
    existing = tmp_path / "shop-db.yaml"
    existing.write_text(yaml.safe_dump(other))

    result = draft(arm, *DEMO, "--plan", str(existing), "--output", "json")

    document = json.loads(result.stdout)
    findings = {f["name"]: f for f in document["findings"]}
    assert {name: (f["kind"], f["drafted"]) for name, f in findings.items()} == {
        "legacy-1": ("unmanaged-disks", False), "shop-app-2": ("backup-only", True),
        "shop-db-1": ("in-another-plan", False)}
    assert "legacy-1-osdisk, legacy-1-data0" in findings["legacy-1"]["message"]
    assert "az vm convert" in findings["legacy-1"]["action"]
    assert "vault rsv-weu (westeurope, LocallyRedundant, the VM's own region)" in \
        findings["shop-app-2"]["message"]
    assert "nothing to restore from" in findings["shop-app-2"]["message"]
    assert f"plan 'shop-db' ({existing})" in findings["shop-db-1"]["message"]
    assert document["existing_plans_from"] == [str(existing)]
    [drafted] = document["plans"]
    assert drafted["valid"] and sorted(drafted["vms"]) == ["shop-app-1", "shop-app-2"]
    plan, problems = check_text(drafted["text"])
    assert problems == [] and sorted(vm.name for vm in plan.vms()) == ["shop-app-1", "shop-app-2"]
    header = comments(drafted["text"].split("\nname:")[0])
    assert f"Existing plans read from: {existing}" in header
    assert "False friends and what was left out (3):" in header
    assert any(n.startswith("- unmanaged-disks: VM legacy-1's disks are VHD blobs") for n in header)
    assert any(n.startswith("- backup-only: VM shop-app-2 is protected only by Azure Backup")
               for n in header)
    for name in ("legacy-1", "shop-app-2", "shop-db-1"):
        assert name in result.stderr
    assert "false friends and what was left out (3)" in result.stderr


def test_vaults_it_may_not_read_skip_the_backup_check_and_say_so(arm):
    no_vaults = {**DRAFTER, "Actions": [a for a in DRAFTER["Actions"]
                                        if "RecoveryServices" not in a]}
    result = draft(arm, *DEMO, role=no_vaults)
    note = (f"the vaults of subscription {SUB} could not be read (403 AuthorizationFailed); the "
            "backup-only check was skipped")
    assert note in " ".join(result.stderr.split())
    assert note in " ".join(c for c in comments(result.stdout))
    plan, problems = check_text(result.stdout)
    assert problems == [] and len(plan.vms()) == 3


def test_bad_input_is_a_sentence_and_an_exit_code(arm):
    unknown = draft(arm, *DEMO[:3], "rg-nope", *DEMO[4:], code=2)
    assert f"resource group rg-nope (subscription {SUB}) was not found (ResourceGroupNotFound)" \
        in unknown.stderr
    malformed = draft(arm, *DEMO[:-1], "/subscriptions/x/vnet", "--name", "Bad Name", code=2)
    assert "--subnet-id: not a subnet id (subscription id 'x' is not a GUID)" in \
        malformed.stderr
    assert "--name: 'Bad Name' is not a plan name" in malformed.stderr
    missing = draft(arm, *DEMO[:-1], NEU_SUBNET.replace("/app", "/nope"), code=2)
    assert "subnet /subscriptions/" in missing.stderr and "/subnets/nope (--subnet-id) was " \
        "not found (ResourceNotFound)" in missing.stderr
    at_odds = draft(arm, *DEMO, "--rpo-minutes", "60", code=2)
    assert "the drafted plan does not validate; nothing was written:" in at_odds.stderr
    assert "shop-weu: protection.rpo_minutes: 60 is shorter than the schedule's longest " \
        "interval" in at_odds.stderr
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = draft(arm, *DEMO, code=5, endpoint=f"https://127.0.0.1:{port}")
    assert "cannot reach Azure Resource Manager to read resource group" in unreachable.stderr
    assert unreachable.stdout == ""


def test_a_thousand_vm_estate_costs_a_few_reads_per_resource_group(arm, tmp_path):
    arm.admin.seed(estate_module.generate(1000), reset=True)
    groups = [f"rg-bulk-{g:03d}" for g in range(10)]
    subnet = NEU_SUBNET.replace("rg-net-neu", "rg-net-northeurope").replace(
        "vnet-neu", "vnet-northeurope")
    arm.admin.clear_operation_log()
    args = [arg for rg in groups for arg in ("--resource-group", rg)]

    result = draft(arm, "--subscription", SUB, *args, "--secondary-region", "northeurope",
                   "--secondary-resource-group", "rg-bulk-northeurope", "--subnet-id", subnet,
                   "--out", str(tmp_path / "plans"), "--output", "json")

    document = json.loads(result.stdout)
    assert [p["name"] for p in document["plans"]] == [f"bulk-{g:03d}" for g in range(10)]
    covered = []
    for drafted in document["plans"]:
        plan, problems = check_text(Path(drafted["file"]).read_text())
        assert problems == [], problems[:3]
        covered += [vm.name for vm in plan.vms()]
    assert sorted(covered) == [f"vm-{i:04d}" for i in range(1000)]
    log = arm.admin.operation_log()
    # Two lists per resource group (VMs, scale sets; a page holds 100), the secondary's two,
    # the subnet, the vaults: bounded by the groups, not the VMs.
    assert len(log) <= 3 * (len(groups) + 1) + 2, [e["path"] for e in log]
    assert len(log) == document["arm_requests"]
    assert not [e for e in log if "/virtualmachines/vm-" in e["path"].lower()]
