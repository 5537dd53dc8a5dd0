"""The no-recording guarantee, enforced on the source and the schema.

Nothing of a lesson's audio or video is ever stored: no module may point a
media recorder at anything but a sound device or open a media container for
writing, and no table has a column that could hold media (binary data).
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import LargeBinary

from telepresence.schema import metadata

ROOT = Path(__file__).parents[2]
PACKAGES = ("telepresence", "device_registry", "scheduler")


def _sources() -> list[Path]:
    return [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]


def test_a_media_recorder_only_ever_plays_to_a_sound_device() -> None:
    """aiortc's MediaRecorder is how the robot plays the pupil's voice (ALSA, live);
    pointed at a file it would record, so every call must name a sound device."""
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name != "MediaRecorder":
                continue
            output = {k.arg: k.value for k in node.keywords}.get("format")
            if not (isinstance(output, ast.Constant) and output.value in {"alsa", "pulse"}):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_no_module_opens_a_media_container_for_writing() -> None:
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "open" or getattr(node.func.value, "id", "") != "av":
                continue
            modes = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
            if any(isinstance(m, ast.Constant) and "w" in str(m.value) for m in modes):
                found.append(str(path.relative_to(ROOT)))
    assert found == []


def test_no_table_can_hold_media() -> None:
    binary = [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    ]
    assert binary == []
