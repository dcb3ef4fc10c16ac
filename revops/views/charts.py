"""Server-rendered SVG charts: geometry is computed here, ``templates/dashboards/_*chart.html`` draws it.

No JavaScript and no library: each chart is an ``<svg role="img">`` with a title, and every chart
sits next to the table it summarises (the accessible, exportable form of the same numbers).
"""

from __future__ import annotations

from decimal import Decimal

BAR_HEIGHT = 22
LABEL_WIDTH = 120
PLOT_WIDTH = 280


def _num(value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, Decimal):
        return float(value)
    return float(value)


def hbar(title: str, items: list[tuple[str, object]], *, unit: str = "") -> dict:
    """Horizontal bars: one per (label, value)."""
    top = max((_num(v) for _, v in items), default=0.0) or 1.0
    bars = []
    for index, (label, value) in enumerate(items):
        width = round(_num(value) / top * PLOT_WIDTH, 1)
        bars.append({
            "label": str(label)[:24], "value": value, "y": index * (BAR_HEIGHT + 6),
            "width": max(width, 1 if _num(value) else 0), "text_x": LABEL_WIDTH + width + 6,
        })
    height = max(len(bars), 1) * (BAR_HEIGHT + 6)
    return {"kind": "hbar", "title": title, "bars": bars, "height": height, "label_width": LABEL_WIDTH,
            "width": LABEL_WIDTH + PLOT_WIDTH + 70, "bar_height": BAR_HEIGHT, "unit": unit, "empty": not items}


def vbar(title: str, items: list[tuple[str, object]], *, unit: str = "", height: int = 140,
         plot_width: int = 460) -> dict:
    """Vertical columns (24 hours of the day, days of a range); labels thin out when there are many."""
    top = max((_num(v) for _, v in items), default=0.0) or 1.0
    step = max(3, min(40, plot_width // max(len(items), 1)))
    every = max(1, -(-36 // step))  # about one label per 36 px
    bars = []
    for index, (label, value) in enumerate(items):
        h = round(_num(value) / top * height, 1)
        bars.append({"label": label if index % every == 0 else "", "title": label, "value": value,
                     "x": 30 + index * step, "h": h, "y": height - h + 10, "w": max(step - 4, 2),
                     "text_x": 30 + index * step + step / 2})
    return {"kind": "vbar", "title": title, "bars": bars, "height": height + 40,
            "width": 30 + plot_width + 10, "base": height + 10, "unit": unit,
            "empty": not any(_num(v) for _, v in items)}


def funnel_chart(title: str, steps: list[dict]) -> dict:
    """Centered bars narrowing with the funnel, with drop-off between stages."""
    top = max((s["count"] for s in steps), default=0) or 1
    width = 360
    bars = []
    for index, step in enumerate(steps):
        w = max(round(step["count"] / top * width, 1), 2)
        bars.append({**step, "w": w, "x": round((width - w) / 2 + 110, 1), "y": index * 40,
                     "text_y": index * 40 + 20})
    return {"kind": "funnel", "title": title, "bars": bars, "height": len(bars) * 40, "width": width + 230}
