"""The README says what exists now, links only inside the repository, and its examples agree
on the port (issue 16)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_nothing_built_is_still_promised_for_later():
    assert "(soon)" not in README


def test_every_link_stays_inside_the_repository_and_exists():
    targets = re.findall(r"\]\(([^)\s]+)\)", README) + re.findall(r"<(https?://[^>]+)>", README)
    assert targets, "the README links its docs"
    outside = [t for t in targets if "://" in t or t.startswith(("/", "..")) or ".." in t]
    assert outside == []
    missing = [t for t in targets if not (ROOT / t.split("#")[0]).exists()]
    assert missing == []


def test_the_agent_example_follows_the_chosen_port():
    chosen = re.findall(r"CLASSBRIDGE_PORT=(\d+) make demo", README)
    assert chosen, "the README says how to choose another port"
    for port in chosen:
        block = README[README.index(f"CLASSBRIDGE_PORT={port} make demo") :]
        agent = re.search(r"classbridge agent --server http://127\.0\.0\.1:(\d+)", block)
        assert agent is not None
        assert agent.group(1) == port
