"""The report's timeline: Mermaid in report.md, CSS bars in the HTML page (no script)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from vmdr.failover import report, report_html, timeline
from vmdr.saga import Saga

T0 = datetime(2026, 11, 25, 8, tzinfo=UTC)


def a_report(last_state: str = "succeeded") -> dict:
    saga = Saga.new("failover", {"plan": "shop", "mode": "planned"}, "run-1", T0)
    for i, name in enumerate(["preflight", "shutdown", "recover:app", "recover:web"]):
        saga.begin(name, T0 + timedelta(minutes=2 * i))
        saga.end(T0 + timedelta(minutes=2 * i + 1),
                 state=last_state if name == "recover:web" else "succeeded")
    saga.compensated({"description": "undo <app>"}, T0 + timedelta(minutes=9))
    built = report.build(saga.state, "succeeded", T0 + timedelta(minutes=10), None)
    built["recovered"] = [{"vm": "shop-app-1", "group": "app"}, {"vm": "shop-web", "group": "web"}]
    built["rpo"] = [{"vm": "shop-app-1", "rp_id": "rp-1", "point_time": T0.isoformat(),
                     "rpo_seconds": 1200.0}]
    return built


def test_the_mermaid_gantt_has_a_task_per_step_and_per_vm_with_failures_marked():
    lines = timeline.mermaid(a_report("failed"))
    assert lines[:2] == ["```mermaid", "gantt"] and lines[-1] == "```"
    assert "    recover app :done, 2026-11-25 08:04:00, 60s" in lines
    assert "    recover web :crit, 2026-11-25 08:06:00, 60s" in lines
    assert lines.index("    section VMs") > lines.index("    section steps")
    assert "    shop-web :crit, 2026-11-25 08:06:00, 60s" in lines
    assert "## Timeline" in report.markdown(a_report())


def test_the_html_page_draws_a_bar_per_step_and_vm_and_the_rpo_against_the_target():
    html = report_html.render(a_report(), rpo_minutes_target=15)
    bars = re.findall(r'<div class="bar (\w[\w-]*)" data-section="(\w+)" data-label="([^"]+)"',
                      html)
    assert [(s, label) for _, s, label in bars] == [
        ("steps", "preflight"), ("steps", "shutdown"), ("steps", "recover:app"),
        ("steps", "recover:web"), ("VMs", "shop-app-1"), ("VMs", "shop-web")]
    assert 'style="left:0.00%;width:14.29%"' in html  # preflight: 1 min of the 7 drawn
    assert "<script" not in html and "undo &lt;app&gt;" in html
    assert "RPO per VM (target 15 min)" in html and '<td class="over">20m00s (over)' in html


def test_hooks_are_a_table_in_the_markdown_and_the_html_page():
    built = a_report()
    built["hooks"] = [{"group": "data", "phase": "after", "hook": "promote", "action": "undo",
                       "target": "VM shop-db-standby", "state": "failed",
                       "attempts": [{"exit_code": 2, "output": "lag | <40 s>"}]}]
    markdown = report.markdown(built)
    assert "## Hooks" in markdown
    assert "| data | promote | after — undo | VM shop-db-standby | failed (exit 2) | 1 | " \
           "lag \\| <40 s> |" in markdown
    html = report_html.render(built)
    assert "<h2>Hooks</h2>" in html and "promote (undo) (after)" in html
    assert "lag | &lt;40 s&gt;" in html and '<td class="over">failed (exit 2)</td>' in html
