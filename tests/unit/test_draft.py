"""plan draft's pure logic: names, options, strategies and their reasons, groups in failover
order, the false friends' wording, and a rendered plan that validates whatever the tags hold."""

from __future__ import annotations

import yaml

from vmdr.draft.estate import BackupItem, Estate, EstateScaleSet, EstateVm, Image, Vault
from vmdr.draft.findings import backup_only
from vmdr.draft.request import DraftRequest, name_from, problems
from vmdr.draft.result import finish
from vmdr.draft.suggest import ExistingPlan, database_hints, draft
from vmdr.plan import check_text, parse_plan

SUB = "00000000-0000-0000-0000-000000000001"
SUBNET = (f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/"
          "virtualNetworks/vnet/subnets/app")


def request(**changes) -> DraftRequest:
    values = {"subscription": SUB, "resource_groups": ["rg-shop-weu"],
              "secondary_region": "northeurope", "secondary_resource_group": "rg-shop-neu",
              "secondary_subscription": SUB, "subnet_id": SUBNET, **changes}
    return DraftRequest(**values)


def vm(name: str, rg: str = "rg-shop-weu", location: str = "westeurope", **fields) -> EstateVm:
    return EstateVm(id=f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/"
                       f"Microsoft.Compute/virtualMachines/{name}",
                    name=name, resource_group=rg, location=location,
                    size=fields.pop("size", "Standard_D2s_v5"), **fields)


def test_plan_names_come_from_resource_groups():
    assert name_from("rg-shop-weu") == "shop-weu"
    assert name_from("RG_Shop.Prod (old)") == "shop-prod-old"
    assert len(name_from("rg-" + "x" * 80)) == 40
    assert request(name="shop").plan_name("rg-shop-weu") == "shop"
    several = request(resource_groups=["rg-a", "rg-b"], name="shop")
    assert [several.plan_name(g) for g in ("rg-a", "rg-b")] == ["shop-a", "shop-b"]
    assert request(resource_groups=["rg-a", "rg-b"]).plan_name("rg-b") == "b"


def test_every_problem_of_the_options_is_reported_at_once():
    found = problems(request(subscription="nope", resource_groups=["rg-a", "RG-A"],
                             secondary_region="westurope", secondary_resource_group="rg-a",
                             subnet_id=SUBNET.replace("/subnets/app", ""), name="Shop",
                             schedule="0 */4 * * *", rpo_minutes=0))
    assert [p.split(":")[0] for p in found] == [
        "--subscription", "--resource-group", "--secondary-resource-group", "--secondary-region",
        "--subnet-id", "--name", "--schedule", "--rpo-minutes"]
    assert "did you mean westeurope" in found[3]
    assert problems(request()) == []


def test_strategies_groups_and_their_order():
    estate = Estate(subscription=SUB, vms=[
        vm("web-1", tags={"tier": "Web"}),
        vm("sql-1", tags={"tier": "data"}, data_disks=2,
           image=Image(publisher="MicrosoftSQLServer", offer="sql2022-ws2022", sku="web")),
        vm("api-1", tags={"tier": "api"}),
        vm("misc-1", tags={"tier": "batch-jobs"}),
        vm("odd-1", tags={"tier": "reports"}),
        vm("loose-1"),
        vm("flex-1", scale_set_id="ss-flex"),
        vm("flex-2", scale_set_id="ss-flex"),
    ], scale_sets=[
        EstateScaleSet(id="ss-flex", name="flex", resource_group="rg-shop-weu",
                       location="westeurope", size="Standard_D2s_v5", capacity=0, flexible=True,
                       tags={"tier": "web"}),
        EstateScaleSet(id="ss-idle", name="idle", resource_group="rg-shop-weu",
                       location="westeurope", size="Standard_D2s_v5", capacity=0)])

    whole = draft(request(), estate, [])

    [plan] = whole.plans
    assert [g.name for g in plan.groups] == ["data", "api", "batch-jobs", "reports", "Web",
                                             "untagged"]
    assert plan.vm_names == ["sql-1", "api-1", "misc-1", "odd-1", "web-1", "loose-1"]
    web = plan.groups[4]
    assert [(s.name, s.capacity) for s in web.scale_sets] == [("flex", 2)]
    assert "no scale set named flex in rg-shop-neu yet" in web.scale_sets[0].reasons[1]
    sql = plan.groups[0].vms[0]
    assert sql.fields == {"strategy": "recover-from-copy", "target_size": "Standard_D2s_v5"}
    assert "snapshot-set: its 3 disks are captured together" in sql.reasons[1]
    assert sql.reasons[2].startswith("looks like a database (image MicrosoftSQLServer/"
                                     "sql2022-ws2022/web; name sql-1)")
    assert "clean_copy" in sql.reasons[2]
    assert [(f.kind, f.name) for f in whole.findings] == [("not-drafted", "idle")]
    [drafted] = finish(request(), whole)
    assert drafted.problems == []


def test_database_hints_read_image_tags_and_name_tokens():
    assert database_hints(vm("shop-db-1")) == ["name shop-db-1"]
    assert database_hints(vm("dashboard-1", tags={"role": "frontend"})) == []
    assert database_hints(vm("x", image=Image(publisher="Oracle",
                                              offer="oracle-database-19-3"))) == \
        ["image Oracle/oracle-database-19-3"]
    assert database_hints(vm("x", tags={"engine": "PostgreSQL"})) == ["tag engine=PostgreSQL"]


def test_a_standby_is_named_by_its_primary_s_name_or_id_and_must_be_free():
    primary = vm("db-1", size="Standard_E4s_v5")
    by_id = vm("db-1-dr", rg="rg-shop-neu", location="northeurope", size="Standard_B2s",
               tags={"VMDR-Standby-For": primary.id.replace("virtualMachines",
                                                            "VIRTUALMACHINES")})
    estate = Estate(subscription=SUB, vms=[primary], secondary_vms=[by_id])
    [plan] = draft(request(), estate, []).plans
    assert plan.groups[0].vms[0].fields == {"strategy": "standby-resize", "standby_vm": "db-1-dr",
                                            "standby_size": "Standard_B2s",
                                            "target_size": "Standard_E4s_v5"}
    # The standby belongs to another plan: recovered from copies, and the comment says why.
    other = parse_plan(yaml.safe_dump({
        "name": "other", "primary": {"subscription_id": SUB, "region": "westeurope",
                                     "resource_group": "rg-other"},
        "secondary": {"subscription_id": SUB, "region": "northeurope",
                      "resource_group": "rg-shop-neu", "subnet_id": SUBNET},
        "protection": {"schedule": "0 0 */4 * * *", "rpo_minutes": 300},
        "groups": [{"name": "g", "vms": [{"name": "x", "strategy": "standby-resize",
                                          "standby_vm": "db-1-dr",
                                          "target_size": "Standard_E4s_v5"}]}]}))
    [plan] = draft(request(), estate, [ExistingPlan(other, "other.yaml")]).plans
    entry = plan.groups[0].vms[0]
    assert entry.fields["strategy"] == "recover-from-copy"
    assert "its standby db-1-dr is already in plan 'other' (other.yaml)" in entry.reasons[1]


def test_backup_only_says_what_each_vault_setting_does_not_give():
    app = vm("app-1")

    def vault(**fields) -> Vault:
        return Vault(id="/v", name="rsv", location="westeurope", **fields)

    lrs = backup_only(app, [vault(redundancy="LocallyRedundant")], 300)
    assert "never leave westeurope (LocallyRedundant)" in lrs.message and lrs.drafted
    grs = backup_only(app, [vault(redundancy="GeoRedundant")], 300)
    assert "only once Microsoft declares a disaster for the region (Cross Region Restore is " \
        "off)" in grs.message
    crr = backup_only(app, [vault(redundancy="GeoRedundant", cross_region_restore=True)], 300)
    assert "paired region (not necessarily your secondary), from points up to 36 hours old" in \
        crr.message
    assert "RPO 300 min" in crr.action
    # A vault of another region is not this VM's protection in its region (Azure Backup pairs
    # a VM with a vault of its own region): no finding.
    estate = Estate(subscription=SUB, vms=[app], vaults=[
        Vault(id="/v-neu", name="rsv-neu", location="northeurope", redundancy="GeoRedundant")],
        backups=[BackupItem(vault_id="/v-neu", vm_id=app.id)])
    assert draft(request(), estate, []).findings == []


def test_text_from_the_estate_cannot_break_out_of_a_comment():
    hostile = "db\nevil: true\r\n# - x\u2028more"
    estate = Estate(subscription=SUB, vms=[vm("app-1", tags={"tier": hostile,
                                                           "role": hostile})])
    [drafted] = finish(request(), draft(request(), estate, []))
    assert drafted.problems == []
    plan, _ = check_text(drafted.text)
    assert "evil" not in yaml.safe_load(drafted.text)
    assert plan.groups[0].name == hostile.strip()
    assert all(line.lstrip().startswith("#") or ":" in line or line.lstrip().startswith("-")
               for line in drafted.text.splitlines() if line.strip())
