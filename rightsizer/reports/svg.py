"""Two small inline SVG charts for the HTML report (and the console): bars and lines.

Drawn on the server, no script and no external font or CDN, so they survive an email client.
"""

from __future__ import annotations

from html import escape

FONT = "font-family=\"'Noto Sans CJK SC','Microsoft YaHei',sans-serif\" font-size=\"12\""
COLOURS = ("#c0392b", "#27ae60", "#2c6fbb", "#8e44ad")


def _money(v: float) -> str:
    return f"¥{v:,.0f}" if abs(v) >= 100 else f"¥{v:,.2f}"


def bars(labels: list[str], values: list[float | None], title: str, width: int = 720) -> str:
    """Horizontal bars, one per label, the value at the end of each; an unknown value (``None``) no bar, "—"."""
    left, row, top = 190, 24, 34
    height = top + row * max(1, len(labels)) + 12
    top_value = max([v for v in values if v is not None and v > 0] + [1.0])
    span = width - left - 110
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{escape(title)}" {FONT}>',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>']
    for i, (label, v) in enumerate(zip(labels, values)):
        y = top + i * row
        if v is None:
            out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
                       f'<text x="{left + 6}" y="{y + 15}" fill="#777">—（未监测）</text>')
            continue
        w = max(0.0, v) / top_value * span
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
                   f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{COLOURS[0]}"/>'
                   f'<text x="{left + w + 6:.1f}" y="{y + 15}">{_money(v)}</text>')
    out.append("</svg>")
    return "".join(out)


def lines(labels: list[str], series: dict[str, list[float | None]], title: str, width: int = 720,
          height: int = 300, unit: str = "money") -> str:
    """One line per series over the labels (months), with a legend and a money axis. A value not known
    (``None``: a month not monitored) has no point: the line breaks there, it never drops to 0."""
    left, right, top, bottom = 80, 20, 40, 56
    top_value = max([v for vs in series.values() for v in vs if v is not None and v > 0] + [1.0])
    if unit == "%":
        top_value = 100.0
    axis = _money if unit == "money" else (lambda v: f"{v:g}{unit}")
    n = max(1, len(labels) - 1)
    x = lambda i: left + i * (width - left - right) / n  # noqa: E731
    y = lambda v: top + (1 - max(0.0, v) / top_value) * (height - top - bottom)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{escape(title)}" {FONT}>',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>']
    for k in range(5):
        v = top_value * k / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{axis(v)}</text>')
    for i, label in enumerate(labels):
        out.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">{escape(label)}</text>')
    for c, (name, vs) in enumerate(series.items()):
        colour = COLOURS[c % len(COLOURS)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        out.extend(f'<polyline points="{" ".join(r)}" fill="none" stroke="{colour}" stroke-width="2"/>'
                   for r in runs if len(r) > 1)
        out.extend(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>'
                   for i, v in enumerate(vs) if v is not None)
        lx = left + c * 160
        out.append(f'<rect x="{lx}" y="{height - 18}" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{lx + 16}" y="{height - 8}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
