"""`plan draft --url`: the plans stored in a running vmdr (devhost) are read through its HTTP
API, and what they claim is left out of the draft, which says where it read them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tests.e2e.conftest import SUB, demo_plan
from vmdr.cli import cli
from vmdr.plan import check_text

NEU_SUBNET = (f"/subscriptions/{SUB}/resourceGroups/rg-net-neu/providers/Microsoft.Network/"
              "virtualNetworks/vnet-neu/subnets/app")


def test_a_draft_leaves_out_what_the_plans_stored_in_vmdr_claim(vmdr):
    stored = demo_plan()
    stored.pop("drill")
    stored["groups"] = [{"name": "app", "vms": [{"name": "shop-app-1",
                                                 "strategy": "recover-from-copy"}]},
                        {"name": "web", "scale_sets": [{"name": "shop-web", "capacity": 3}]}]
    vmdr.put_plan(stored)
    url, key = vmdr.client.base_url, vmdr.client.function_key
    info = vmdr.platform.armsim.info
    env = {"VMDR_ARM_ENDPOINT": info.endpoint, "VMDR_CA_BUNDLE": info.ca_bundle,
           "VMDR_LOCAL_TOKEN": info.token("owner"), "VMDR_URL": url, "VMDR_KEY": key}
    args = ["plan", "draft", "--subscription", SUB, "--resource-group", "rg-shop-weu",
            "--secondary-region", "northeurope", "--secondary-resource-group", "rg-shop-neu",
            "--subnet-id", NEU_SUBNET, "--output", "json"]

    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["existing_plans_from"] == [f"vmdr at {url}"]
    left_out = {f["name"]: f for f in document["findings"] if f["kind"] == "in-another-plan"}
    assert sorted(left_out) == ["shop-app-1", "shop-web"]
    assert f"plan 'shop' (vmdr at {url})" in left_out["shop-app-1"]["message"]
    [drafted] = document["plans"]
    plan, problems = check_text(drafted["text"])
    assert problems == []
    assert sorted(vm.name for vm in plan.vms()) == ["shop-app-2", "shop-db-1"]
    assert [s for g in plan.groups for s in g.scale_sets] == []
    assert key not in result.stdout + result.stderr
    # A key vmdr refuses: exit 5, one line, nothing drafted.
    refused = CliRunner().invoke(cli, [*args, "--key", "not-the-key-4711"], env=env)
    assert refused.exit_code == 5 and refused.stdout == ""
    assert "vmdr refused the function key" in refused.stderr
    assert "Traceback" not in refused.stderr
