"""Lists of cards show no bullets (the inbox had a stray bullet beside each card): the rule is in
app.css, which every page loads, not only in a feature's stylesheet some pages leave out."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_card_lists_have_no_bullets_on_any_page() -> None:
    templates = [
        p
        for p in ROOT.glob("**/templates/**/*.html")
        if not {".venv", "var", "node_modules"} & set(p.parts)
        and re.search(r'<ul class="cards\b', p.read_text())
    ]
    assert any(p.name == "inbox.html" for p in templates)
    css = (ROOT / "telepresence/static/app.css").read_text()
    rule = re.search(r"(?m)^ul\.cards \{([^}]*)\}", css)
    assert rule is not None, "app.css styles ul.cards for every page"
    assert "list-style: none" in rule.group(1)
    assert "padding: 0" in rule.group(1)
