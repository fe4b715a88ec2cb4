"""The failover report's *Backups to restore* (vmdr/backups/report.py) in Markdown and on the
HTML page; which rows it holds is checked end to end in tests/e2e/test_backups.py."""

from __future__ import annotations

from tests.unit.test_report_timeline import a_report
from vmdr.backups import report as backups_report
from vmdr.failover import report_html

URL = "https://shopbackupsneu.blob.core.windows.net/db-backups/nightly/2026-12-03.bak"


def with_backups() -> dict:
    built = a_report()
    built["backups"] = [
        {"group": "data", "backup": "db-dumps", "source": "shopbackupsweu/db-backups/nightly/",
         "target": "shopbackupsneu/db-backups/", "rpo_minutes_target": 1500,
         "restore": {"blob": "nightly/2026-12-03.bak", "url": URL,
                     "source_blob": "nightly/2026-12-03.bak",
                     "last_modified": "2026-11-25T02:00:00+00:00",
                     "time": "2026-11-25T02:00:00+00:00"},
         "rpo_seconds": 21600.0, "note": None},
        {"group": "files", "backup": "share<1>", "source": "shopbackupsweu/share-backups/",
         "target": "shopbackupsneu/share-backups/", "rpo_minutes_target": 300,
         "restore": None, "rpo_seconds": None, "note": backups_report.NONE_COPIED},
    ]
    return built


def test_markdown_names_the_backup_to_restore_and_says_when_there_is_none():
    text = backups_report.markdown(with_backups())
    assert "## Backups to restore" in text
    assert f"| data | db-dumps | `{URL}` | 2026-11-25T02:00:00+00:00 | 6h00m00s |" in text
    assert "| files | share<1> | **none copied** | — | — |" in text
    assert "- share<1> (files): no backup of this set has reached the secondary yet" in text
    assert backups_report.markdown(a_report()) == ""  # a plan without backup sets


def test_the_html_page_shows_them_without_links_and_escaped():
    html = report_html.render(with_backups())
    assert "<h2>Backups to restore</h2>" in html and "share&lt;1&gt;" in html
    assert "<code>nightly/2026-12-03.bak</code> in shopbackupsneu/db-backups/" in html
    assert "http://" not in html and "https://" not in html  # self-contained, no links
    assert "Backups to restore" not in report_html.render(a_report())
