"""Run reports through devhost: the RTO of a plan without DNS, the runs listing, the HTML
report in a browser, and the run's telemetry."""

from __future__ import annotations

from tests.browser import measured_bars
from tests.e2e.test_failover import finish, protect, shop_plan, start_failover
from tests.telemetry import in_memory
from vmdr import telemetry


def test_a_plan_without_dns_reports_the_rto_to_healthy_and_its_runs_are_listed(vmdr, tmp_path):
    plan = shop_plan(vmdr, required=False)
    del plan["dns"]
    vmdr.put_plan(plan)
    protect(vmdr)
    start_failover(vmdr, mode="unplanned", reason="no DNS in this plan")
    output = finish(vmdr)
    assert output["outcome"] == "succeeded", output
    rto = output["rto"]
    assert rto["basis"] == "health" and rto["seconds_to_healthy"] > 0, rto
    assert "seconds_to_dns_switch" not in rto
    markdown = vmdr.catalog.get_run_markdown("shop", output["run_id"])
    assert "to healthy (health checks passed); the plan has no `dns` section" in markdown

    listing = vmdr.client.call("GET", "plans/shop/runs")
    assert listing.status == 200, listing.text
    [run] = listing.json()["runs"]
    assert run["run_id"] == output["run_id"] and run["outcome"] == "succeeded"
    assert run["mode"] == "unplanned" and run["rto_basis"] == "health"
    assert run["rto_seconds"] == rto["seconds_to_healthy"]
    report = vmdr.client.call("GET", run["report"]["json"].removeprefix("/api/"))
    assert report.status == 200 and report.json()["run_id"] == output["run_id"]
    text = vmdr.client.call("GET", run["report"]["markdown"].removeprefix("/api/"))
    assert text.status == 200 and text.text == markdown

    assert "```mermaid\ngantt" in markdown and "section VMs" in markdown

    # The HTML report: by Accept; JSON otherwise; 404 as the other report routes.
    route = run["report"]["html"].removeprefix("/api/")
    page = vmdr.client.call("GET", route, headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "<script" not in html and "http://" not in html and "https://" not in html
    as_json = vmdr.client.call("GET", route)
    assert as_json.status == 200 and as_json.json() == report.json()
    missing = vmdr.client.call("GET", "plans/shop/runs/run-20260101t000000z-00000000/report",
                               headers={"Accept": "text/html"})
    assert missing.status == 404 and missing.json()["error"]["code"] == "RunNotFound"
    # In a real browser: one visible bar per step, and one per recovered VM.
    steps = report.json()["steps"]
    bars = measured_bars(html, tmp_path)
    assert [b["label"] for b in bars if b["section"] == "steps"] == [s["name"] for s in steps]
    assert all(b["width"] > 0 for b in bars), bars
    assert sorted(b["label"] for b in bars if b["section"] == "VMs") == sorted(
        r["vm"] for r in report.json()["recovered"])

    # What the report activity emits for this run (devhost runs it in another process; here the
    # same call on the run's stored report, through the in-memory exporter): a span per step.
    otel = in_memory()
    telemetry.run_finished(report.json())
    spans = otel.spans.get_finished_spans()
    assert [s.attributes["vmdr.step"] for s in spans if s.name.startswith("vmdr.step ")] == [
        s["name"] for s in steps]
    assert {s.attributes["vmdr.run_id"] for s in spans} == {output["run_id"]}
    [rto_point] = [p for p in otel.points(telemetry.RTO_METRIC)
                   if p.attributes["vmdr.plan"] == "shop"]
    assert rto_point.sum == rto["seconds_to_healthy"]
