"""``classbridge import-timetable``: import a pupil's timetable export from a file.

Same service as the API upload (all or nothing, idempotent re-import); the
command line adds a progress bar for big files, a table of every problem and
exit code 2 when the file is refused or the input is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from scheduler.timetables import services
from scheduler.timetables.imports import ImportRejected
from scheduler.timetables.imports.common import MAX_FILE_BYTES
from telepresence.platform.audit import record
from telepresence.platform.clock import SystemClock
from telepresence.platform.database import Database
from telepresence.platform.errors import DomainError
from telepresence.platform.identity import Principal, Role
from telepresence.platform.models import Pupil
from telepresence.platform.settings import Settings

__all__ = ["import_timetable_cli"]

CHUNK = 64 * 1024


def _read(path: Path, console: Console) -> bytes:
    """The file's bytes with a progress bar; refuses oversized files before reading them."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    chunks: list[bytes] = []
    columns = (TextColumn("Reading {task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, console=console, transient=True) as progress, path.open("rb") as f:
        task = progress.add_task(path.name, total=size)
        while chunk := f.read(CHUNK):
            chunks.append(chunk)
            progress.advance(task, len(chunk))
    return b"".join(chunks)


def _problems_table(exc: ImportRejected) -> Table:
    table = Table(title=f"{len(exc.errors)} problem(s): nothing was imported", show_lines=False)
    for column in ("file", "line", "field", "problem"):
        table.add_column(column, overflow="fold")
    for problem in exc.errors:
        line = "" if problem.line is None else str(problem.line)
        table.add_row(problem.file, line, problem.field or "", problem.message)
    return table


def _summary(outcome: services.ImportOutcome, console: Console) -> None:
    diff = outcome.diff
    verb = "Would import" if outcome.dry_run else "Imported"
    console.print(
        f"[green]{verb}[/green] a {outcome.source_format} timetable: "
        f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed, "
        f"{len(diff.unchanged)} unchanged."
    )
    for lesson in diff.added:
        console.print(f"  + {lesson.key}  {lesson.subject}  {lesson.room}")
    for change in diff.changed:
        console.print(f"  ~ {change.new.key}  {change.new.subject}: {', '.join(change.fields)}")
    for lesson in diff.removed:
        console.print(f"  - {lesson.key}  {lesson.subject}")
    for warning in outcome.warnings:
        console.print(f"[yellow]note[/yellow] {warning}")
    if outcome.flagged:
        console.print(f"[yellow]{outcome.flagged} booking(s) flagged for staff to review.[/yellow]")


async def _import(
    settings: Settings, args: argparse.Namespace, data: bytes, console: Console
) -> int:
    database = Database(settings.effective_database_url)
    now = SystemClock().now()
    try:
        async with database.transaction() as session:
            pupil = await session.get(Pupil, args.pupil)
            if pupil is None:
                console.print(f"[red]There is no pupil {args.pupil!r}.[/red]")
                return 2
            who = Principal(Role.ADMIN, "cli", "command line", provider_id=pupil.provider_id)
            with console.status("Validating every lesson..."):
                outcome = await services.import_timetable(
                    session,
                    who,
                    pupil.id,
                    data,
                    fmt=args.format,
                    file_name=args.file.name,
                    roster_id=args.roster_id,
                    dry_run=args.dry_run,
                    now=now,
                )
            action = "timetable.preview" if args.dry_run else "timetable.import"
            record(
                session, actor=who, action=action, subject_type="pupil", subject_id=pupil.id, at=now
            )
    finally:
        await database.close()
    _summary(outcome, console)
    return 0


async def import_timetable_cli(
    settings: Settings, args: argparse.Namespace, console: Console
) -> int:
    """Run the command; 0 on success, 2 when the file is refused or the input is wrong."""
    try:
        data = await asyncio.to_thread(_read, args.file, console)
    except (OSError, ValueError) as exc:
        console.print(f"[red]Cannot read {args.file}:[/red] {exc}")
        return 2
    try:
        return await _import(settings, args, data, console)
    except ImportRejected as exc:
        console.print(_problems_table(exc))
        return 2
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        return 2
