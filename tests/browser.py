"""Headless Chromium (Debian's `chromium`, installed by `make chromium`) for tests of pages vmdr
serves: load a page, let the browser lay it out, and read back what it measured.

The page under test needs no script; the test appends one that measures each `.bar` with
getBoundingClientRect() after layout and writes the results into the DOM, which
`chromium --headless --dump-dom` prints.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

MEASURE = """<script>
const bars = [...document.querySelectorAll('.bar')].map(b => {
  const r = b.getBoundingClientRect();
  return {section: b.dataset.section, label: b.dataset.label, width: r.width, left: r.left};
});
const out = document.createElement('pre'); out.id = 'measured';
out.textContent = JSON.stringify(bars); document.body.appendChild(out);
</script>"""


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is not installed (make chromium: apt-get install -y chromium)")
    return found


def measured_bars(html: str, where: Path) -> list[dict]:
    """Each `.bar` of the page as laid out by Chromium at 1200x900: section, label, width."""
    page = where / "page.html"
    page.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={where / 'profile'}",
         "--window-size=1200,900", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="measured">(.*?)</pre>', result.stdout, re.S)
    assert found, f"no measurement (chromium exit {result.returncode}): {result.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
