"""The wheel an operator installs (``pip install .``) carries every file the service reads.

Run from a copy of the tracked files, as a release checkout would be: a
template, a stylesheet or a migration that the package data rules leave
out would work from the repository and fail on a server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("telepresence", "scheduler", "device_registry")
PIP_WHEEL = (sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q")


def tracked() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return [name for name in listed.split("\0") if name]


def test_the_wheel_holds_every_tracked_file_of_the_packages(tmp_path: Path) -> None:
    checkout = tmp_path / "release"
    files = tracked()
    for name in files:
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    build = subprocess.run(
        [*PIP_WHEEL, "-w", str(tmp_path / "dist"), str(checkout)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp_path / "dist").glob("classbridge-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = [name for name in files if name.split("/")[0] in PACKAGES]
    assert len(wanted) > 300
    missing = [name for name in wanted if name not in shipped]
    assert missing == [], f"tracked but not in the wheel: {missing[:20]}"
    assert any(name.startswith("telepresence/migrations/versions/") for name in shipped)
    assert any(name.endswith(".html") for name in shipped)
