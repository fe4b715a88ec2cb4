"""A real protect cycle (its activities in-process against armsim and Azurite) emits its span
and each VM's RPO through OpenTelemetry (the SDK's in-memory exporter and reader)."""

from __future__ import annotations

from tests.app.support import run_cycle, store_plan
from tests.telemetry import in_memory


def test_a_protect_cycle_is_a_span_and_each_vm_an_rpo_point(arm, catalog, azure_clients):
    otel = in_memory()
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    finished = run_cycle(catalog, azure_clients)
    [span] = [s for s in otel.spans.get_finished_spans() if s.name == "vmdr.protect_cycle"]
    assert span.attributes["vmdr.plan"] == "shop"
    assert span.attributes["vmdr.cycle_id"] == finished["cycle_id"]
    assert span.attributes["vmdr.count.protected"] == finished["counts"]["protected"] >= 1
    assert span.status.is_ok and span.end_time >= span.start_time
    rows = {row["vm"]: row for row in finished["vms"]}
    points = [p for p in otel.points("vmdr.rpo_minutes")
              if p.attributes.get("vmdr.source") == "protect"
              and p.attributes["vmdr.vm"] in rows]
    assert {p.attributes["vmdr.vm"] for p in points} == {
        vm for vm, row in rows.items() if row["rpo_minutes"] is not None}
    assert all(p.attributes["vmdr.over_rpo"] is False for p in points)
