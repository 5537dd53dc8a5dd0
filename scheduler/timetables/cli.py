"""``classbridge login`` and ``classbridge import-timetable``: staff's command-line client.

The import is a client of the HTTP API, like the device agent: it signs in
with a token (``--token``, ``CLASSBRIDGE_TOKEN`` or the file ``classbridge
login`` wrote), finds the pupil by their pupil code, uploads the file (a
OneRoster folder is zipped first) with a progress bar, and prints the
summary. Every problem goes to stderr as ``FILE:LINE: message``, one a line;
bad input exits 2 and nothing is written (the server imports all or nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from scheduler.timetables.imports.common import MAX_FILE_BYTES

__all__ = ["import_timetable_cli", "login_cli", "read_export", "token_file"]

CHUNK = 64 * 1024
MAX_FOLDER_FILES = 64
BAD_INPUT = 2
UNREACHABLE = 1


class CliError(Exception):
    """Something the person at the terminal must fix; ``lines`` go to stderr as they are."""

    def __init__(self, *lines: str, code: int = BAD_INPUT) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines
        self.code = code


def token_file() -> Path:
    """Where ``classbridge login`` keeps the token (``$XDG_CONFIG_HOME/classbridge/token``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "classbridge" / "token"


def _save_token(server: str, body: dict[str, Any]) -> Path:
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {"server": server, "token": body["token"], "expires_at": body["expires_at"]}, handle
        )
    return path


def _saved_token() -> dict[str, str]:
    try:
        saved = json.loads(token_file().read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def read_export(path: Path) -> tuple[bytes, str]:
    """The file's bytes and name; a folder (a OneRoster bundle) becomes a zip of its files.

    Raises :class:`CliError` for a missing or oversized file or folder.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        if not files or len(files) > MAX_FOLDER_FILES:
            raise CliError(f"{path}: a OneRoster folder holds 1 to {MAX_FOLDER_FILES} files")
        if sum(p.stat().st_size for p in files) > MAX_FILE_BYTES:
            raise CliError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for file in files:
                bundle.write(file, file.name)
        return out.getvalue(), f"{path.name}.zip"
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        raise CliError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return path.read_bytes(), path.name


@dataclass(frozen=True, slots=True)
class _Api:
    session: aiohttp.ClientSession
    server: str
    headers: dict[str, str]

    async def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        url = self.server.rstrip("/") + path
        async with self.session.request(method, url, headers=self.headers, **kwargs) as resp:
            body = await resp.json(content_type=None) if resp.content_length != 0 else None
            return resp.status, body


def _detail(body: Any) -> str:
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


async def _pupil_id(api: _Api, code: str) -> str:
    status, body = await api.json("GET", "/api/pupils")
    if status == 401:
        raise CliError("not signed in or the token expired: run `classbridge login` again")
    if status != 200:
        raise CliError(f"cannot list pupils: {status} {_detail(body)}")
    wanted = code.strip().upper()
    for pupil in body:
        if str(pupil.get("pupil_code", "")).upper() == wanted or pupil.get("id") == code:
            return str(pupil["id"])
    raise CliError(f"there is no pupil with code {code!r} on your provider's roll")


def _problem_lines(body: Any, file_name: str) -> list[str]:
    """``FILE:LINE: message`` for each problem (``FILE: message`` for the whole file)."""
    errors = body.get("errors", []) if isinstance(body, dict) else []
    lines = []
    for problem in errors:
        where = problem.get("file") or file_name
        if problem.get("line") is not None:
            where += f":{problem['line']}"
        message = str(problem.get("message", ""))
        if problem.get("field") and "file" in problem:
            message = f"{problem['field']}: {message}"
        lines.append(f"{where}: {message}")
    return lines or [f"{file_name}: {_detail(body) or 'refused'}"]


async def _chunks(data: bytes, advance: Callable[[int], None]) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        advance(len(chunk))
        yield chunk


async def _upload(
    api: _Api, pupil_id: str, data: bytes, name: str, args: argparse.Namespace, err: Console
) -> Any:
    query = {"file_name": name, "dry_run": "true" if args.dry_run else "false"}
    query |= {k: v for k, v in (("format", args.format), ("roster_id", args.roster_id)) if v}
    columns = (
        TextColumn("Sending {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    # A bar only on a terminal: a log or a pipe gets the problems and nothing else.
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(name, total=len(data))
        body = _chunks(data, lambda n: progress.advance(task, n))
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
        url = api.server.rstrip("/") + f"/api/pupils/{pupil_id}/timetable"
        async with api.session.post(
            url, data=body, params=query, headers=api.headers | headers
        ) as resp:
            progress.update(task, description=f"{name}: checking every lesson")
            answer = await resp.json(content_type=None)
    if resp.status == 422:
        raise CliError(*_problem_lines(answer, name))
    if resp.status != 200:
        raise CliError(f"{name}: {resp.status} {_detail(answer)}")
    return answer


def _summary(body: dict[str, Any], console: Console) -> None:
    verb = "Would import" if body["dry_run"] else "Imported"
    console.print(
        f"[green]{verb}[/green] a {body['source_format']} timetable: "
        f"{len(body['added'])} added, {len(body['changed'])} changed, "
        f"{len(body['removed'])} removed, {body['unchanged']} unchanged."
    )
    for lesson in body["added"]:
        console.print(f"  + {lesson['lesson_key']}  {lesson['subject']}  {lesson['room']}")
    for change in body["changed"]:
        console.print(f"  ~ {change['lesson_key']}  {', '.join(change['fields'])}")
    for lesson in body["removed"]:
        console.print(f"  - {lesson['lesson_key']}  {lesson['subject']}")
    for code, meaning in body.get("period_codes", {}).items():
        console.print(f"  period code {code} = {meaning}")
    for warning in body["warnings"]:
        console.print(f"[yellow]note[/yellow] {warning['message']}")
    if body["flagged_bookings"]:
        console.print(f"[yellow]{body['flagged_bookings']} booking(s) flagged for staff.[/yellow]")


def _credentials(args: argparse.Namespace, default_server: str) -> tuple[str, str]:
    saved = _saved_token()
    server = args.server or saved.get("server") or default_server
    token = args.token or os.environ.get("CLASSBRIDGE_TOKEN") or ""
    if not token and saved.get("server", "").rstrip("/") == server.rstrip("/"):
        token = saved.get("token", "")
    if not token:
        raise CliError(f"no token for {server}: run `classbridge login --server {server}` first")
    return server, token


async def _import(
    args: argparse.Namespace, default_server: str, console: Console, err: Console
) -> int:
    server, token = _credentials(args, default_server)
    data, name = await asyncio.to_thread(read_export, args.file)
    timeout = aiohttp.ClientTimeout(total=600, connect=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = _Api(session, server, {"Authorization": f"Bearer {token}"})
        pupil_id = await _pupil_id(api, args.pupil)
        body = await _upload(api, pupil_id, data, name, args, err)
    _summary(body, console)
    return 0


async def import_timetable_cli(
    args: argparse.Namespace, default_server: str, console: Console, err: Console
) -> int:
    """Run ``import-timetable``; 0 on success, 2 for bad input, 1 when the server is unreachable."""
    try:
        return await _import(args, default_server, console, err)
    except CliError as exc:
        for line in exc.lines:
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        return exc.code
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        err.print(f"cannot reach the service: {exc}", markup=False, soft_wrap=True)
        return UNREACHABLE


async def login_cli(
    args: argparse.Namespace, password: str, default_server: str, console: Console, err: Console
) -> int:
    """Exchange an email and password for an API token and keep it in :func:`token_file`."""
    server = args.server or default_server
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            api = _Api(session, server, {})
            body = {"email": args.email, "password": password}
            status, answer = await api.json("POST", "/api/auth/login", json=body)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        err.print(f"cannot reach the service: {exc}", markup=False, soft_wrap=True)
        return UNREACHABLE
    if status != 200:
        err.print(f"sign-in refused: {_detail(answer) or status}", markup=False, soft_wrap=True)
        return BAD_INPUT
    path = await asyncio.to_thread(_save_token, server, answer)
    until = datetime.fromisoformat(answer["expires_at"]).astimezone(UTC)
    console.print(f"Signed in to {server} until {until:%d %b %H:%M} UTC; token kept in {path}.")
    return 0
