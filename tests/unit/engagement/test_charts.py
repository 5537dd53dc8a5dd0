"""Charts as inline SVG: accessible words, escaped labels, bars as long as their values."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from telepresence.engagement.dashboard.charts import (
    Bar,
    Segment,
    share_bars,
    sparkline,
    stacked_bars,
    week_bars,
)

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output


def test_week_bars_say_every_week_in_words_and_draw_heights_to_scale():
    svg = week_bars([Bar("3 Mar", 1.0, "4 of 4"), Bar("10 Mar", 0.5), Bar("17 Mar", None)], "W")
    root = _parse(svg)
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None
    assert title.text == "W"
    assert desc is not None
    assert desc.text == (
        "Share of booked time attended per week. "
        "3 Mar: 100% (4 of 4); 10 Mar: 50%; 17 Mar: no lessons"
    )
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    heights = [float(r.get("height", 0)) for r in root.iter(f"{SVG}rect")]
    assert heights == [150.0, 75.0]  # the week without lessons has no bar, not a zero bar


def test_labels_are_escaped_and_segments_are_proportional():
    svg = stacked_bars(
        [
            ("<b>Art</b>", [Segment("attended", 3), Segment("missed", 1)]),
            ("Maths", [Segment("attended", 2), Segment("missed", 0)]),
        ],
        "Subjects",
    )
    assert "<b>" not in svg
    assert "&lt;b&gt;Art&lt;/b&gt;" in svg
    root = _parse(svg)
    bars = [r for r in root.iter(f"{SVG}rect") if float(r.get("height", 0)) == 20]
    widths = [float(r.get("width", 0)) for r in bars]
    assert widths == [157.5, 52.5, 105.0]  # 3:1 of the longest row, 2 of 4 for Maths
    assert "&lt;b&gt;Art&lt;/b&gt;: 3 attended, 1 missed" in svg


def test_sparkline_and_share_bars_read_as_words():
    spark = sparkline([0.9, None, 0.4], "Sam")
    assert "Weekly share attended: 90%, no lessons, 40%." in spark
    points = re.search(r'points="([^"]+)"', str(spark))
    assert points is not None
    assert len(points.group(1).split()) == 2
    bars = share_bars([Bar("Robot A", 0.25), Bar("Robot B", None)], "Utilisation")
    assert "Robot A: 25%; Robot B: no lessons" in bars
    _parse(bars)
