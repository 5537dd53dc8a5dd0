"""Charts as inline SVG, drawn on the server: no script, no build step, no library.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that
say in words what it shows (screen readers read those; the pages also put the
figures in a table). Colours are presentation attributes, not ``style``, so
the pages' Content-Security-Policy (no inline styles) leaves them alone.
Pure: values in, markup out.

A chart whose bars link to the records behind them (a robot's page, a school's
moves) wraps each bar, its label and its figure in an ``<a href>`` named in
words, over a transparent rectangle as large as the bar's row or column, so
that the whole row is the touch target and keyboard focus shows on it
(``engagement.css``). Such a chart is ``role="group"`` (named by its title,
described by its desc) instead of ``img``: an image's children are
presentational, so links inside one would be hidden from screen readers.
Its rows are taller (52), so that on a phone each row stays at least 48 px
tall. Bar charts are drawn 320 wide, a phone's card, so that on a phone their
words are not scaled below the 14 px they are drawn at.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = [
    "COLOURS",
    "Bar",
    "Segment",
    "number",
    "percent",
    "share_bars",
    "sparkline",
    "stacked_bars",
    "week_bars",
]

COLOURS = {
    "attended": "#1f7a4d",
    "partial": "#d08c00",
    "missed": "#b3261e",
    "cancelled": "#8a93a6",
    "on_time": "#1f7a4d",
    "late": "#d08c00",
    "failed": "#b3261e",
    "open": "#8a93a6",
    "share": "#2f5bd3",
    "grid": "#dde2ec",
    "ink": "#1d2433",
    "muted": "#5a6478",
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label under or beside it, its value (a share 0..1, or None: no data)."""

    label: str
    value: float | None
    note: str = ""  # extra words for the description, e.g. "3 of 4 lessons"
    href: str = ""  # the records behind the bar (a page), if any


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of a stacked bar: what it counts (a key of ``COLOURS``) and how many."""

    kind: str
    count: int


def number(n: int) -> str:
    """A count as people read it, grouped in thousands ("10,270")."""
    return f"{n:,}"


def percent(share: float | None) -> str:
    """A share as whole percent ("80%"), or "no lessons" without one."""
    return "no lessons" if share is None else f"{round(share * 100)}%"


def _open(
    width: int, height: int, title: str, desc: str, css: str, *, linked: bool = False
) -> tuple[str, list[str]]:
    # Ids from the words themselves: stable across renders, distinct between charts.
    n = hashlib.blake2s(f"{title}|{desc}".encode(), digest_size=4).hexdigest()
    t, d = f"chart-{n}-t", f"chart-{n}-d"
    role = (
        f'role="group" aria-labelledby="{t}" aria-describedby="{d}"'
        if linked
        else f'role="img" aria-labelledby="{t} {d}"'
    )
    head = (
        f'<svg class="{css}{" linked" if linked else ""}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {role} xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{t}">{escape(title)}</title><desc id="{d}">{escape(desc)}</desc>'
    )
    return head, []


def _link(href: str, words: str, box: tuple[float, float, float, float], inner: str) -> str:
    """``inner`` as one link to ``href`` named ``words``, over a transparent ``box`` (x, y,
    width, height) that makes the whole row or column the target."""
    x, y, w, h = box
    return (
        f'<a href="{escape(href)}" aria-label="{escape(words)}"><title>{escape(words)}</title>'
        f'<rect class="hit" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
        f'fill="{COLOURS["share"]}" fill-opacity="0"/>{inner}</a>'
    )


def _short(label: str, most: int) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


def week_bars(bars: Sequence[Bar], title: str, *, goal: float | None = 0.8) -> Markup:
    """Vertical bars of a share per week (0-100%), labelled under each bar and above it.

    ``goal`` draws a dashed line (the attended share) to read the bars against.
    """
    words = "; ".join(
        f"{b.label}: {percent(b.value)}{f' ({b.note})' if b.note else ''}" for b in bars
    )
    desc = f"Share of booked time attended per week. {words or 'No weeks in this period.'}"
    slot, left, top, plot = 60, 44, 20, 150
    width = max(left + slot * max(len(bars), 1) + 8, 320)  # no wider than a phone needs
    every = 1 if len(bars) <= 8 else 2  # a term's weeks: every other date, so they stay legible
    height = top + plot + 40
    linked = any(b.href for b in bars)
    css = "chart week-chart" + (" many" if len(bars) > 8 else "")  # many: scrolls on a phone
    head, parts = _open(width, height, title, desc, css, linked=linked)
    for pct in (0, 50, 100):
        y = top + plot - plot * pct / 100
        parts.append(
            f'<line x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{COLOURS["grid"]}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="14" '
            f'fill="{COLOURS["muted"]}">{pct}%</text>'
        )
    if goal is not None:
        y = top + plot - plot * goal
        parts.append(
            f'<line x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{COLOURS["attended"]}" stroke-dasharray="6 4" stroke-width="1.5"/>'
        )
    for i, bar in enumerate(bars):
        x = left + slot * i + 8
        cx = x + (slot - 16) / 2
        drawn = []
        if i % every == 0:
            drawn.append(
                f'<text x="{cx:.1f}" y="{top + plot + 20}" text-anchor="middle" font-size="14" '
                f'fill="{COLOURS["muted"]}">{escape(bar.label)}</text>'
            )
        if bar.value is None:
            drawn.append(
                f'<text x="{cx:.1f}" y="{top + plot - 6}" text-anchor="middle" font-size="12" '
                f'fill="{COLOURS["muted"]}">&#8211;</text>'
            )
        else:
            h = plot * min(max(bar.value, 0.0), 1.0)
            fill = COLOURS["attended"] if goal is None or bar.value >= goal else COLOURS["share"]
            drawn.append(
                f'<rect x="{x}" y="{top + plot - h:.1f}" width="{slot - 16}" height="{h:.1f}" '
                f'rx="3" fill="{fill}"/>'
                f'<text x="{cx:.1f}" y="{top + plot - h - 5:.1f}" text-anchor="middle" '
                f'font-size="14" font-weight="600" fill="{COLOURS["ink"]}" stroke="#fff" '
                f'stroke-width="4" paint-order="stroke">{percent(bar.value)}</text>'  # a halo
            )
        if bar.href:
            words = f"Week of {bar.label}: {percent(bar.value)}"
            words += f" ({bar.note})" if bar.note else ""
            box = (x - 8.0, 0.0, float(slot), float(height))  # the whole column
            parts.append(_link(bar.href, words, box, "".join(drawn)))
        else:
            parts.extend(drawn)
    return Markup(head + "".join(parts) + "</svg>")  # noqa: S704 - every value above is escaped


def sparkline(values: Sequence[float | None], label: str) -> Markup:
    """A small line of weekly shares (0-100%) for a table row; gaps where no lesson was booked."""
    width, height, pad = 120, 32, 3
    words = ", ".join(percent(v) for v in values) or "no weeks"
    head, parts = _open(width, height, label, f"Weekly share attended: {words}.", "spark")
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [
        (pad + step * i, height - pad - (height - 2 * pad) * min(max(v, 0.0), 1.0))
        for i, v in enumerate(values)
        if v is not None
    ]
    parts.append(
        f'<line x1="0" x2="{width}" y1="{height - pad}" y2="{height - pad}" '
        f'stroke="{COLOURS["grid"]}"/>'
    )
    if len(points) > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{COLOURS["share"]}" '
            'stroke-width="2" stroke-linejoin="round"/>'
        )
    if points:
        x, y = points[-1]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS["share"]}"/>')
    return Markup(head + "".join(parts) + "</svg>")  # noqa: S704 - numbers and escaped text


def _row_words(label: str, segs: Sequence[Segment]) -> str:
    return f"{label}: " + ", ".join(f"{s.count} {s.kind.replace('_', ' ')}" for s in segs)


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[Segment]]],
    title: str,
    what: str = "lessons",
    links: Sequence[str] = (),
) -> Markup:
    """Horizontal bars, one per row (a subject, a school), split into coloured segments
    (attended / partial / missed / cancelled, or on time / late / failed / open), with a
    legend. Each bar is as long as its row's total against the largest row. ``links``: the
    page of each row's records (in the order of ``rows``), if any."""
    kinds = list(dict.fromkeys(s.kind for _, segs in rows for s in segs))
    words = "; ".join(_row_words(label, segs) for label, segs in rows)
    desc = f"{title}, in {what}. {words or 'Nothing in this period.'}"
    linked = any(links)
    label_w, bar_w, row_h = 120, 160, (52 if linked else 30)
    width = label_w + bar_w + 40
    legend, x, y = [], 0, 6
    for kind in kinds:  # a legend that wraps to a second line rather than run off the chart
        name = kind.replace("_", " ")
        if x and x + 20 + 8 * len(name) > width:
            x, y = 0, y + 22
        legend.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" rx="3" fill="{COLOURS[kind]}"/>'
            f'<text x="{x + 19}" y="{y + 12}" font-size="14" fill="{COLOURS["ink"]}">{name}</text>'
        )
        x += 28 + 8 * len(name)
    top = y + 28
    height = top + row_h * max(len(rows), 1) + 6
    head, parts = _open(width, height, title, desc, "chart bars-chart", linked=linked)
    parts += legend
    most = max((sum(s.count for s in segs) for _, segs in rows), default=0) or 1
    bar_h, text_y = (28, 31) if linked else (20, 18)
    for i, (label, segs) in enumerate(rows):
        y = top + row_h * i
        drawn = [
            f'<text x="{label_w - 8}" y="{y + text_y}" text-anchor="end" font-size="14" '
            f'fill="{COLOURS["ink"]}">{escape(_short(label, 14))}</text>'
        ]
        x0 = float(label_w)
        for seg in segs:
            w = bar_w * seg.count / most
            if w > 0:
                drawn.append(
                    f'<rect x="{x0:.1f}" y="{y + (row_h - bar_h) / 2:.1f}" width="{w:.1f}" '
                    f'height="{bar_h}" fill="{COLOURS[seg.kind]}"/>'
                )
            x0 += w
        total = sum(s.count for s in segs)
        drawn.append(
            f'<text x="{x0 + 6:.1f}" y="{y + text_y}" font-size="14" '
            f'fill="{COLOURS["muted"]}">{total}</text>'
        )
        href = links[i] if i < len(links) else ""
        if href:
            box = (0.0, y + 1.0, float(width), row_h - 2.0)
            parts.append(_link(href, _row_words(label, segs), box, "".join(drawn)))
        else:
            parts.extend(drawn)
    return Markup(head + "".join(parts) + "</svg>")  # noqa: S704 - every value above is escaped


def share_bars(bars: Sequence[Bar], title: str) -> Markup:
    """Horizontal bars of a share (0-100%) per row, e.g. each robot's utilisation; a bar
    with an ``href`` links to its records (the robot's page)."""
    words = "; ".join(f"{b.label}: {percent(b.value)}" for b in bars)
    desc = f"{title}. {words or 'Nothing in this period.'}"
    linked = any(b.href for b in bars)
    label_w, bar_w, row_h = 120, 150, (52 if linked else 30)
    bar_h, text_y = (28, 31) if linked else (20, 18)
    width, height = label_w + bar_w + 50, row_h * max(len(bars), 1) + 6
    head, parts = _open(width, height, title, desc, "chart bars-chart", linked=linked)
    for i, bar in enumerate(bars):
        y = row_h * i
        top = y + (row_h - bar_h) / 2
        value = min(max(bar.value or 0.0, 0.0), 1.0)
        drawn = (
            f'<text x="{label_w - 8}" y="{y + text_y}" text-anchor="end" font-size="14" '
            f'fill="{COLOURS["ink"]}">{escape(_short(bar.label, 14))}</text>'
            f'<rect x="{label_w}" y="{top:.1f}" width="{bar_w}" height="{bar_h}" '
            f'fill="{COLOURS["grid"]}"/>'
            f'<rect x="{label_w}" y="{top:.1f}" width="{bar_w * value:.1f}" '
            f'height="{bar_h}" fill="{COLOURS["share"]}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + text_y}" font-size="14" '
            f'fill="{COLOURS["ink"]}">{percent(bar.value)}</text>'
        )
        if bar.href:
            box = (0.0, y + 1.0, float(width), row_h - 2.0)
            parts.append(_link(bar.href, f"{bar.label}: {percent(bar.value)}", box, drawn))
        else:
            parts.append(drawn)
    return Markup(head + "".join(parts) + "</svg>")  # noqa: S704 - every value above is escaped
