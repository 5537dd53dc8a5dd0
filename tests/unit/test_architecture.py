"""The dependency rules of DESIGN.md, checked on the source (imports only)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def offending(package: str, forbidden: tuple[str, ...], allow: tuple[str, ...] = ()) -> list[str]:
    out = []
    for path in modules(package):
        if path.name in allow:
            continue
        for name in imports_of(path):
            if name.startswith(forbidden):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


def test_the_kernel_imports_no_feature_package():
    # schema.py gathers every table for Alembic; only migrations and tests use it.
    assert (
        offending(
            "telepresence/platform",
            ("device_registry", "scheduler", "telepresence.notifications"),
            allow=("schema.py",),
        )
        == []
    )


def test_the_device_registry_knows_nothing_of_timetables_or_sessions():
    forbidden = (
        "scheduler",
        "telepresence.agent",
        "telepresence.app",
        "telepresence.pages",
        "telepresence.organisation",
        "telepresence.demo",
        "telepresence.cli",
    )
    assert offending("device_registry", forbidden) == []


def test_the_scheduler_knows_nothing_of_media():
    assert offending("scheduler", ("aiortc", "av", "telepresence.agent")) == []


def test_domain_modules_do_no_io():
    io = ("aiohttp", "sqlalchemy", "asyncpg", "aiosqlite")
    domain = [
        p
        for pkg in ("device_registry", "scheduler")
        for p in modules(pkg)
        if p.name in {"domain.py", "calendar.py", "occurrences.py"}
    ]
    assert domain
    bad = [f"{p.relative_to(ROOT)}: {n}" for p in domain for n in imports_of(p) if n.startswith(io)]
    assert bad == []


def test_modules_stay_small():
    big = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for pkg in ("telepresence", "device_registry", "scheduler")
        for p in modules(pkg)
        if (n := len(p.read_text().splitlines())) > 600 and "migrations" not in p.parts
    ]
    assert big == []


def test_test_modules_have_unique_names():
    """pytest imports test modules by basename (rootdir-relative, no packages)."""
    tests = ROOT / "tests"
    seen: dict[str, str] = {}
    clashes = []
    for path in sorted(tests.rglob("test_*.py")):
        other = seen.setdefault(path.name, str(path.relative_to(tests)))
        if other != str(path.relative_to(tests)):
            clashes.append(f"{other} and {path.relative_to(tests)}")
    assert clashes == []
