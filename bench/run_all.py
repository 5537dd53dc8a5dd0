"""``make bench``: run every benchmark in bench/ and rewrite the table atop docs/performance.md.

    .venv/bin/python bench/run_all.py                      # all of them (about 20-30 minutes)
    .venv/bin/python bench/run_all.py --only occurrences,api_throughput

A benchmark is a script here that prints a JSON line with a ``bench`` key at the
end (bench/socket_fleet.py is a helper, not one). Each runs alone, one after
another, so that they do not measure each other; its output goes to
var/bench/<name>.log. The figures are stamped with the date and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from summary import merge, parse_results, read_results, write_block

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DOC = ROOT / "docs" / "performance.md"
LOGS = ROOT / "var" / "bench"
NOT_BENCHMARKS = {"run_all.py", "summary.py", "socket_fleet.py"}
TIMEOUT_S = 45 * 60


def benchmarks() -> list[Path]:
    """Every script in bench/ that reports a result line."""
    return sorted(
        p
        for p in BENCH.glob("*.py")
        if p.name not in NOT_BENCHMARKS and '"bench":' in p.read_text()
    )


def machine() -> str:
    """CPU model, cores and memory of this machine, e.g. ``2 x Xeon E5-2690 v4, 7.8 GB``."""
    model = platform.processor() or platform.machine()
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GB"
                break
    except OSError:
        pass
    model = " ".join(model.replace("(R)", "").replace("(TM)", "").split())
    return f"{os.cpu_count()} x {model}{memory}"


def run(script: Path) -> tuple[list[dict[str, object]], float]:
    """Run one benchmark; its results (stamped) and how long it took."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{script.stem}.log"
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        output, status = done.stdout, done.returncode
        log.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    except subprocess.TimeoutExpired as exc:
        output, status = str(exc.stdout or ""), -1
        log.write_text(f"timed out after {TIMEOUT_S} s\n{output}")
    took = time.monotonic() - started
    results = parse_results(output)
    # The load average says how much else ran: these machines are often shared.
    load = f", load {os.getloadavg()[0]:.1f}"
    stamp = {"measured_on": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": machine() + load}
    if not results:
        results = [
            {
                "bench": script.stem,
                "value": None,
                "met": None,
                "goal": f"no result (exit {status}), see {log.relative_to(ROOT)}",
            }
        ]
    return [r | stamp for r in results], took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated script names (without .py)")
    args = parser.parse_args()
    scripts = benchmarks()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.stem for s in scripts}
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
        scripts = [s for s in scripts if s.stem in wanted]
    fresh: list[dict[str, object]] = []
    for script in scripts:
        print(f"{script.stem} ...", flush=True)
        results, took = run(script)
        fresh.extend(results)
        for r in results:
            figures = f"{r.get('value')} vs {r.get('baseline')}, met={r.get('met')}"
            print(f"  {r['bench']}: {figures} ({took:.0f} s)")
    document = DOC.read_text()
    DOC.write_text(write_block(document, merge(read_results(document), fresh)))
    print(f"wrote the table in {DOC.relative_to(ROOT)}")
    return 0 if all(r.get("met") is not None for r in fresh) else 1


if __name__ == "__main__":
    sys.exit(main())
