"""docs/security.md names a test for each claim: every test it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
NAMED = re.compile(r"`(?:tests/)?((?:[\w/]+/)?test_\w+\.py)(?:::(\w+))?`")


def _test_file(name: str) -> Path | None:
    direct = ROOT / "tests" / name
    if direct.exists():
        return direct
    found = [p for p in (ROOT / "tests").rglob(Path(name).name) if str(p).endswith(name)]
    return found[0] if len(found) == 1 else None


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_test_the_security_document_names_exists() -> None:
    named = NAMED.findall(DOC.read_text())
    assert len(named) >= 30
    missing = []
    for file_name, function in named:
        path = _test_file(file_name)
        if path is None:
            missing.append(file_name)
        elif function and function not in _functions(path):
            missing.append(f"{file_name}::{function}")
    assert missing == []
