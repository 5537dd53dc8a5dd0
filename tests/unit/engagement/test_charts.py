"""Charts as inline SVG: accessible words, escaped labels, bars as long as their values."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from telepresence.engagement.dashboard.charts import (
    Bar,
    Segment,
    number,
    percent,
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
    assert widths == [120.0, 40.0, 80.0]  # 3:1 of the longest row, 2 of 4 for Maths
    assert "&lt;b&gt;Art&lt;/b&gt;: 3 attended, 1 missed" in svg
    assert float(root.get("width", 0)) == 320  # a phone's card: drawn at its size there
    legend = [float(t.get("y", 0)) for t in root.iter(f"{SVG}text")][:2]
    assert legend == [18.0, 18.0]  # attended, missed: one legend line


def test_a_long_legend_wraps_inside_the_chart():
    kinds = ("attended", "partial", "missed", "cancelled")
    root = _parse(stacked_bars([("Art", [Segment(k, 1) for k in kinds])], "Subjects"))
    width = float(root.get("width", 0))
    texts = list(root.iter(f"{SVG}text"))[:4]
    assert [float(t.get("y", 0)) for t in texts] == [18.0, 18.0, 18.0, 40.0]
    assert all(float(t.get("x", 0)) + 8 * len(t.text or "") <= width for t in texts)


def test_sparkline_and_share_bars_read_as_words():
    spark = sparkline([0.9, None, 0.4], "Sam")
    assert "Weekly share attended: 90%, no lessons, 40%." in spark
    points = re.search(r'points="([^"]+)"', str(spark))
    assert points is not None
    assert len(points.group(1).split()) == 2
    bars = share_bars([Bar("Robot A", 0.25), Bar("Robot B", None)], "Utilisation")
    assert "Robot A: 25%; Robot B: no lessons" in bars
    _parse(bars)


def test_bars_with_records_link_to_them_named_in_words_as_row_sized_targets():
    bars = share_bars(
        [Bar("Robot A", 0.25, href="/devices/a1"), Bar('Robot "B"', None, href="/devices/b&2")],
        "Utilisation",
    )
    root = _parse(bars)
    # An image's children are presentational: a chart of links is a group, named and described.
    assert root.get("role") == "group"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert (root.get("aria-labelledby"), root.get("aria-describedby")) == (
        title.get("id"),
        desc.get("id"),
    )
    links = root.findall(f"{SVG}a")
    assert [a.get("href") for a in links] == ["/devices/a1", "/devices/b&2"]
    assert [a.get("aria-label") for a in links] == ["Robot A: 25%", 'Robot "B": no lessons']
    width = float(root.get("width", 0))
    assert width <= 324  # drawn no wider than a phone's card, so it is not scaled down there
    for a in links:
        hit = a.find(f"{SVG}rect")
        assert hit is not None
        assert hit.get("class") == "hit"
        assert float(hit.get("height", 0)) >= 48
        assert float(hit.get("width", 0)) == width
    assert "style" not in str(bars)
    plain = _parse(share_bars([Bar("Robot A", 0.25)], "Utilisation"))
    assert plain.get("role") == "img"
    assert plain.findall(f"{SVG}a") == []


def test_schools_and_weeks_link_to_the_moves_and_the_week_behind_them():
    rows = [("Oak", [Segment("on_time", 3), Segment("failed", 1)]), ("Elm", [Segment("late", 2)])]
    root = _parse(stacked_bars(rows, "Moves", "moves", ["/m/oak", "/m/elm"]))
    assert root.get("role") == "group"
    links = root.findall(f"{SVG}a")
    assert [a.get("href") for a in links] == ["/m/oak", "/m/elm"]
    assert links[0].get("aria-label") == "Oak: 3 on time, 1 failed"
    weeks = _parse(
        week_bars([Bar("3 Mar", 0.5, "1 of 2", "/w/3"), Bar("10 Mar", None, "", "/w/10")], "W")
    )
    [first, second] = weeks.findall(f"{SVG}a")
    assert (first.get("href"), first.get("aria-label")) == ("/w/3", "Week of 3 Mar: 50% (1 of 2)")
    assert second.get("aria-label") == "Week of 10 Mar: no lessons"
    hit = first.find(f"{SVG}rect")
    assert hit is not None
    assert float(hit.get("width", 0)) >= 48


def test_counts_and_shares_read_as_people_write_them():
    assert [number(n) for n in (0, 999, 10270, 1234567)] == ["0", "999", "10,270", "1,234,567"]
    assert [percent(v) for v in (None, 0.0, 0.764, 1.0)] == ["no lessons", "0%", "76%", "100%"]
