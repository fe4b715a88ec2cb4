"""A small SVG bar chart of each scenario's figure against its bound (no plotting library: the
picture is a few rectangles)."""

from __future__ import annotations

from typing import Any


def ratios_svg(results: list[dict[str, Any]]) -> str:
    rows = [r for r in results if r.get("bound")]
    width, row_height, left = 720, 34, 190
    height = 50 + row_height * len(rows)
    top = max([r["value"] for r in rows] + [r["bound"] for r in rows] + [1.0])
    scale = (width - left - 80) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             '<text x="10" y="20" font-size="14">vmdr (blue) against the bound Azure allows '
             '(grey line), simulated seconds</text>']
    for index, r in enumerate(rows):
        y = 40 + index * row_height
        parts.append(f'<text x="10" y="{y + 14}">{r["scenario"]} x{r["time_scale"]:g}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{r["value"] * scale:.1f}" height="18" '
                     'fill="#3b6fb6"/>')
        x = left + r["bound"] * scale
        parts.append(f'<line x1="{x:.1f}" y1="{y - 3}" x2="{x:.1f}" y2="{y + 21}" '
                     'stroke="#555" stroke-width="2"/>')
        parts.append(f'<text x="{left + max(r["value"], r["bound"]) * scale + 6:.1f}" '
                     f'y="{y + 14}">{r["ratio"]}x</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
