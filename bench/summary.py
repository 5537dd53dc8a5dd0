"""The summary table at the top of docs/performance.md: rendering and merging results.

Pure functions (no processes, no clock), so they are unit-tested; ``run_all.py``
runs the benchmarks and calls them. The table lives between two markers; the
results behind it are kept beside it as JSON in an HTML comment, so a run of
some benchmarks updates their rows and keeps the others (each row says when
and where it was measured).
"""

from __future__ import annotations

import json
import re
from typing import Any

START = "<!-- bench-summary:start (written by `make bench`; edit bench/summary.py instead) -->"
END = "<!-- bench-summary:end -->"
RESULTS = re.compile(r"<!-- bench-results: (.*?) -->", re.DOTALL)

Result = dict[str, Any]


def parse_results(output: str) -> list[Result]:
    """Every JSON line of a benchmark's output that names a ``bench`` (usually the last)."""
    found = []
    for raw in output.splitlines():
        line = raw.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and "bench" in data and "value" in data:
                found.append(data)
    return found


def _key(result: Result) -> str:
    return str(result["bench"])


def merge(previous: list[Result], fresh: list[Result]) -> list[Result]:
    """The previous results with every benchmark measured again replaced, sorted by name."""
    measured = {_key(r) for r in fresh}
    kept = [r for r in previous if _key(r) not in measured]
    return sorted(kept + fresh, key=_key)


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int | float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(results: list[Result]) -> str:
    """The Markdown table: measure, value, same-run baseline, ratio, goal, met, when, where."""
    lines = [
        "| benchmark | value | same-run baseline | ratio | goal | met | measured | machine |",
        "| --- | ---: | ---: | ---: | --- | :---: | --- | --- |",
    ]
    for r in results:
        unit = f" {r['unit']}" if r.get("unit") else ""
        p99 = f" (p99 {_number(r['p99_ms'])} ms)" if r.get("p99_ms") is not None else ""
        # The baseline's own p99 beside it: what a p99 goal means on the machine of the run.
        base_p99 = r.get("baseline_p99_ms")
        base_p99 = f" (p99 {_number(base_p99)} ms)" if base_p99 is not None else ""
        cpu = f" (CPU {_number(r['cpu_ratio'])})" if r.get("cpu_ratio") is not None else ""
        met = "✅ yes" if r.get("met") is True else ("❌ no" if r.get("met") is False else "-")
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    f"`{r['bench']}`",
                    f"{_number(r.get('value'))}{unit}{p99}",
                    f"{_number(r.get('baseline'))}{unit}{base_p99}",
                    _number(r.get("ratio")) + cpu,
                    str(r.get("goal", "")),
                    met,
                    str(r.get("measured_on", "")),
                    str(r.get("machine", "")),
                )
            )
            + " |"
        )
    return "\n".join(lines)


def render_block(results: list[Result]) -> str:
    """Everything between (and including) the markers."""
    met = sum(1 for r in results if r.get("met") is True)
    data = json.dumps(results, sort_keys=True, ensure_ascii=False)
    return "\n".join(
        [
            START,
            f"**{met} of {len(results)} goals met.** Each benchmark measures its baseline in the "
            "same run on the same machine (the ratio is what the goal is about); the raw figures "
            "depend on the machine. `make bench` runs them all and rewrites this table; "
            "`bench/run_all.py --only NAME` runs one and updates its row.",
            "",
            render_table(results),
            "",
            f"<!-- bench-results: {data} -->",
            END,
        ]
    )


def read_results(document: str) -> list[Result]:
    """The results kept in the document's summary block (none if it has no block)."""
    if START not in document:
        return []
    block = document[document.index(START) : document.index(END)]
    match = RESULTS.search(block)
    if match is None:
        return []
    loaded: list[Result] = json.loads(match.group(1))
    return loaded


def write_block(document: str, results: list[Result]) -> str:
    """The document with its summary block replaced (or inserted after the first paragraph)."""
    block = render_block(results)
    if START in document:
        before = document[: document.index(START)]
        after = document[document.index(END) + len(END) :]
        return before + block + after
    title_end = document.index("\n\n", document.index("\n\n") + 2) + 2
    return document[:title_end] + block + "\n\n" + document[title_end:]
