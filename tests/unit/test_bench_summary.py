"""The performance table: results read from benchmark output, merged, written into the doc."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[2]
spec = importlib.util.spec_from_file_location("bench_summary", ROOT / "bench" / "summary.py")
assert spec is not None
assert spec.loader is not None
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

DOC = "# Performance\n\nIntro paragraph.\n\n## Device sockets\n\nThe long history.\n"


def result(bench: str, value: float, met: bool, **extra) -> dict[str, object]:
    return {"bench": bench, "value": value, "baseline": 1.0, "ratio": value, "goal": "<=2",
            "met": met, "measured_on": "2026-12-07", "machine": "2 x Test CPU"} | extra  # fmt: skip


def test_only_result_lines_are_read_from_the_output():
    output = 'progress 10%\n{"not": "a result"}\n{"bench": "a", "value": 1}\n{broken\n'
    assert summary.parse_results(output) == [{"bench": "a", "value": 1}]


def test_the_table_goes_above_the_history_and_a_second_run_replaces_it():
    first = summary.write_block(DOC, [result("b", 3.0, False), result("a", 1.5, True)])
    assert first.index("Intro paragraph.") < first.index(summary.START)
    assert first.index(summary.END) < first.index("## Device sockets")
    assert "**1 of 2 goals met.**" in first
    assert "| `b` | 3 | 1 | 3 | <=2 | ❌ no | 2026-12-07 | 2 x Test CPU |" in first
    again = summary.write_block(first, summary.read_results(first))
    assert again == first  # idempotent: reading back gives the same results
    assert again.count(summary.START) == 1


def test_a_partial_run_updates_its_rows_and_keeps_the_others():
    doc = summary.write_block(DOC, [result("a", 1.5, True), result("b", 3.0, False)])
    fresh = [result("b", 1.2, True, measured_on="2026-12-08")]
    merged = summary.merge(summary.read_results(doc), fresh)
    assert [(r["bench"], r["value"], r["measured_on"]) for r in merged] == [
        ("a", 1.5, "2026-12-07"),
        ("b", 1.2, "2026-12-08"),
    ]
    assert "**2 of 2 goals met.**" in summary.write_block(doc, merged)


def test_units_and_pipes_in_goals_do_not_break_the_table():
    table = summary.render_table(
        [result("j", 212.0, True, unit="req/s", goal="<300 ms | p99", p99_ms=41.5)]
    )
    row = table.splitlines()[2]
    assert "212 req/s (p99 41.5 ms)" in row
    assert row.count(" | ") == 7  # eight cells: the goal's pipe is escaped


def test_the_baselines_own_p99_stands_beside_it():
    """A p99 goal reads against what the bare baseline managed on that machine, that run."""
    table = summary.render_table(
        [result("w", 900.0, False, unit="req/s", p99_ms=120.0, baseline_p99_ms=87.0)]
    )
    row = table.splitlines()[2]
    assert "900 req/s (p99 120 ms)" in row
    assert "req/s (p99 87 ms)" in row.split(" | ")[2]
