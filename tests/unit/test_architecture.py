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


FEATURES = (
    "device_registry",
    "scheduler",
    "telepresence.agent",
    "telepresence.engagement",
    "telepresence.notifications",
    "telepresence.organisation",
    "telepresence.reintegration",
    "telepresence.sessions",
    "telepresence.tablet",
    "telepresence.app",
    "telepresence.cli",
    "telepresence.demo",
    "telepresence.pages",
    "telepresence.schema",
)

# Pure cores: plain Python over values, time passed in. They import no I/O library
# and, of the project, only other pure modules and the kernel's error types.
PURE = (
    "device_registry/domain.py",
    "scheduler/timetables/calendar.py",
    "scheduler/timetables/calendar_text.py",
    "scheduler/timetables/occurrences.py",
    "scheduler/timetables/imports/",
    "scheduler/bookings/domain.py",
    "scheduler/bookings/rules.py",
    "scheduler/bookings/unavailability/domain.py",
    "scheduler/bookings/week.py",
    "scheduler/rota/domain/",
)
IO = ("aiohttp", "sqlalchemy", "asyncpg", "aiosqlite", "aiosmtplib", "aiortc", "structlog")
PURE_KERNEL = ("telepresence.platform.errors",)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_pure(path: Path) -> bool:
    rel = str(path.relative_to(ROOT))
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in PURE)


def impure_imports(path: Path) -> list[str]:
    """What a pure module imports that is not pure: I/O libraries or the project's adapters."""
    pure_names = {
        _module_name(p)
        for pkg in ("device_registry", "scheduler")
        for p in modules(pkg)
        if _is_pure(p)
    }
    bad = []
    for name in imports_of(path):
        if name.startswith(IO):
            bad.append(name)
        elif name.startswith(("scheduler", "device_registry", "telepresence")):
            package_faces = {"scheduler.timetables.imports", "scheduler.rota.domain"}
            if (
                name not in pure_names
                and name not in package_faces
                and not name.startswith(PURE_KERNEL)
            ):
                bad.append(name)
    return bad


def test_the_kernel_imports_no_feature_package():
    # The metadata of every table is assembled at the composition root (telepresence/schema.py).
    assert offending("telepresence/platform", FEATURES) == []


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


def test_the_scheduler_rooms_point_one_way():
    """timetables <- bookings <- rota: the rota plans moves from bookings, never the reverse.

    Timetables' use cases tell bookings what an import or a calendar change did
    (``reconcile_bookings``, booking events); nothing else of bookings, and nothing of
    the rota, is known to timetables.
    """
    assert offending("scheduler/bookings", ("scheduler.rota",)) == []
    timetables_may_use = (
        "scheduler.bookings.services",
        "scheduler.bookings.ports",
        "scheduler.bookings.events",
    )
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("scheduler/timetables")
        for name in imports_of(path)
        if name.startswith(("scheduler.bookings", "scheduler.rota"))
        and name not in timetables_may_use
    ]
    assert bad == []


def test_only_the_rotas_doors_read_it_for_people():
    """The rota plans, keeps and acts on moves without knowing how they are shown:
    ``rota/reading`` is imported by the rota's API and pages only (and within itself)."""
    doors = {"scheduler/rota/web.py", "scheduler/rota/pages.py"}
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for pkg in ("scheduler", "telepresence", "device_registry")
        for path in modules(pkg)
        if str(path.relative_to(ROOT)) not in doors
        and not str(path.relative_to(ROOT)).startswith("scheduler/rota/reading/")
        for name in imports_of(path)
        if name.startswith("scheduler.rota.reading")
    ]
    assert bad == []


def test_pure_cores_import_no_io_and_no_adapter():
    pure = [p for pkg in ("device_registry", "scheduler") for p in modules(pkg) if _is_pure(p)]
    assert len(pure) >= 15
    bad = [f"{p.relative_to(ROOT)}: {n}" for p in pure for n in impure_imports(p)]
    assert bad == []


def test_the_rule_checker_catches_a_pure_module_that_reaches_for_a_service(tmp_path: Path):
    core = ROOT / "scheduler" / "bookings" / "rules.py"
    bad = tmp_path / "rules.py"
    bad.write_text(core.read_text() + "\nfrom scheduler.bookings.services import book_occurrence\n")
    names = set(imports_of(bad)) - set(imports_of(core))
    assert names == {"scheduler.bookings.services"}
    assert "scheduler.bookings.services" in impure_imports(bad)


# Alembic's chain of migrations is one folder by design, never split.
NOT_ROOMS = ("telepresence/migrations/versions",)

# Folders allowed past the limit for now, each with why. Every entry must still be crowded,
# so the exception goes when the folder is split.
CROWDED_FOR_NOW: dict[str, str] = {}


def crowded_folders(
    package: str, most: int = 15, root: Path = ROOT, skip: tuple[str, ...] = NOT_ROOMS
) -> dict[str, int]:
    """Folders of ``package`` (itself included) holding more than ``most`` modules."""
    return {
        rel: n
        for d in [root / package, *(root / package).rglob("*")]
        if d.is_dir()
        and (rel := str(d.relative_to(root))) not in skip
        and (n := len(list(d.glob("*.py")))) > most
    }


def test_no_folder_is_crowded():
    """A room past about 15 modules wants sub-rooms named after what people do (the kernel:
    by concern). Every package of the service, every folder of it."""
    crowded = {
        folder: n
        for package in ("telepresence", "scheduler", "device_registry")
        for folder, n in crowded_folders(package).items()
    }
    assert {f: n for f, n in crowded.items() if f not in CROWDED_FOR_NOW} == {}
    assert sorted(CROWDED_FOR_NOW) == sorted(f for f in crowded if f in CROWDED_FOR_NOW)


def test_the_crowding_check_counts_a_folder_past_its_limit(tmp_path: Path):
    # security/ holds 8 modules (__init__ included): past a limit of 5, not past 15.
    assert crowded_folders("telepresence/platform", most=5)["telepresence/platform/security"] == 8
    assert "telepresence/platform/security" not in crowded_folders("telepresence/platform")
    # A nested folder of 16 modules is found; the package's own top is counted too.
    deep = tmp_path / "pkg" / "room" / "sub"
    deep.mkdir(parents=True)
    for i in range(16):
        (deep / f"m{i}.py").write_text("")
        (tmp_path / "pkg" / f"t{i}.py").write_text("")
    assert crowded_folders("pkg", root=tmp_path) == {"pkg": 16, "pkg/room/sub": 16}
    # Only the migrations' chain is left out, and it would count.
    assert crowded_folders("telepresence", skip=())["telepresence/migrations/versions"] > 15


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
