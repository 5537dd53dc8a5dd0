"""Standalone "← back" links are full-size touch targets on every page (the QA pass found
them 20 px tall on a phone): each sits in a ``back-link`` paragraph that the CSS sizes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [
    p
    for p in ROOT.glob("**/templates/**/*.html")
    if not {".venv", "var", "node_modules"} & set(p.parts)
]


def test_every_standalone_back_link_is_a_full_size_target() -> None:
    assert TEMPLATES, "templates found"
    bare = [
        f"{p.relative_to(ROOT)}: {line.strip()}"
        for p in TEMPLATES
        for line in p.read_text().splitlines()
        if re.search(r"<p>\s*<a [^>]*>\s*(←|&larr;)", line)
    ]
    assert bare == []
    css = (ROOT / "telepresence/static/app.css").read_text()
    assert re.search(r"\.back-link a \{[^}]*min-height: var\(--tap\)", css)
