"""strategy: image in a plan: its image block, defaults, and every problem with its path."""

from __future__ import annotations

from pathlib import Path

import yaml

from vmdr.plan import check_data, parse_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plans" / "image.yaml"
GALLERY = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-shop-neu/"
           "providers/Microsoft.Compute/galleries/gal_shop_neu")


def plan_with(*vms: dict) -> dict:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["groups"] = [{"name": "workers", "vms": list(vms)}]
    return data


def image_vm(name: str = "shop-worker", **image) -> dict:
    return {"name": name, "strategy": "image",
            "image": {"gallery_id": GALLERY, "schedule": "0 0 3 * * *", **image}}


def problems_of(data: dict) -> dict[str, str]:
    plan, problems = check_data(data)
    assert plan is None
    return {p.path: p.message for p in problems}


def test_the_example_and_its_defaults():
    plan = parse_plan(EXAMPLE.read_text())
    worker, render = plan.image_vms()
    assert plan.protected_vms() == []  # protect cycles never snapshot image VMs
    assert worker.image.vm_count == 2 and worker.image.keep_last == 3
    assert worker.image.definition_of(worker.name) == "shop-worker"
    assert render.image.vm_count == 0 and render.image.scale_set.capacity == 4
    assert render.image.definition_of(render.name) == "shop-render"
    # default RPO: the longest interval (a day) plus an hour for capture and replication
    assert render.image.rpo_target_minutes() == 24 * 60 + 60
    assert worker.image.rpo_target_minutes() == 11520
    one, _ = check_data(plan_with(image_vm()))
    assert one.vms()[0].image.vm_count == 1


def test_every_image_problem_has_its_path():
    data = plan_with(
        image_vm(count=2, scale_set={"name": "ss", "capacity": 2}, schedule="0 */10 * * * *",
                 rpo_minutes=5, keep_last=0),
        {"name": "no_image", "strategy": "image", "standby_vm": "sb", "clean_copy": True,
         "disks": {"exclude_luns": [1]}},
        {"name": "copied", "strategy": "recover-from-copy",
         "image": {"gallery_id": GALLERY, "schedule": "0 0 3 * * *"}},
        image_vm("bad_name", scale_set={"name": "ss2", "capacity": 1},
                 gallery_id="/subscriptions/00000000-0000-0000-0000-000000000001/"
                            "resourceGroups/rg/providers/Microsoft.Compute/disks/d"),
        {**image_vm("sized", scale_set={"name": "ss3", "capacity": 1}),
         "target_size": "Standard_D4s_v5"},
    )
    found = problems_of(data)
    vm0 = "groups[0].vms[0].image"
    assert "give count (VMs to create) or scale_set" in found[f"{vm0}.count"]
    assert "at least 60 minutes apart" in found[f"{vm0}.schedule"]
    assert "shorter than the schedule's longest interval" in found[f"{vm0}.rpo_minutes"]
    assert found[f"{vm0}.keep_last"] == "should be at least 1 (got 0)"
    assert found["groups[0].vms[1].image"].startswith("required when strategy is image")
    assert found["groups[0].vms[1].standby_vm"] == "only for strategy standby-resize"
    assert found["groups[0].vms[1].clean_copy"].startswith("only for strategy recover-from-copy")
    assert found["groups[0].vms[1].disks"].startswith("only for strategy recover-from-copy")
    assert found["groups[0].vms[2].image"].startswith("only for strategy image")
    assert "expected a Microsoft.Compute/galleries id" in found["groups[0].vms[3].image.gallery_id"]
    assert "is not an image definition name" in found["groups[0].vms[3].image.definition"]
    assert found["groups[0].vms[4].target_size"].startswith("not with image.scale_set")


def test_a_scale_set_name_is_one_per_plan():
    data = plan_with(image_vm(scale_set={"name": "shop-web", "capacity": 2}))
    data["groups"].append({"name": "web", "scale_sets": [{"name": "shop-web", "capacity": 3}]})
    found = problems_of(data)
    assert found["groups[1].scale_sets[0].name"] == (
        "duplicate scale set name 'shop-web' (first at groups[0].vms[0].image.scale_set.name)")


def test_a_definition_name_of_its_own():
    data = plan_with(image_vm("shop_worker_1", definition="shop-worker"))
    plan, problems = check_data(data)
    assert problems == [] and plan.vms()[0].image.definition_of("shop_worker_1") == "shop-worker"
