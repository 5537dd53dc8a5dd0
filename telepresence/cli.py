"""The ``classbridge`` command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from telepresence.platform.settings import Settings

__all__ = ["main"]

# Piped output (CI logs, `make demo | tee`) gets tables wide enough not to cut e-mail addresses.
console = Console(stderr=False, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)
GATEWAY_PORT = 8090
"""Where ``classbridge gateway`` listens unless told (the service: 8080, a second one 8081)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classbridge",
        description="Telepresence classroom coordination for medical alternative provision.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the web service")
    serve.add_argument("--host", help="address to listen on (CLASSBRIDGE_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (CLASSBRIDGE_PORT)")
    gateway = sub.add_parser(
        "gateway", help="serve device sockets for the service (PostgreSQL; optional)"
    )
    gateway.add_argument("--host", help="address to listen on (CLASSBRIDGE_HOST)")
    gateway.add_argument(
        "--port", type=int, default=GATEWAY_PORT, help=f"port to listen on ({GATEWAY_PORT})"
    )
    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="migrate the database to the latest version")
    sub.add_parser("demo", help="seed a realistic demo (idempotent) and print the logins")
    provider = sub.add_parser("provider", help="providers (hospital schools)")
    provider_sub = provider.add_subparsers(dest="provider_command", required=True, metavar="ACTION")
    provider_add = provider_sub.add_parser("add", help="create a provider (a fresh install)")
    provider_add.add_argument("--name", required=True, help="e.g. 'Riverside Hospital School'")
    user = sub.add_parser("user", help="accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="create an account (password from stdin, or generated)")
    add.add_argument("--email", required=True)
    add.add_argument(
        "--role", required=True, choices=["admin", "coordinator", "hospital_staff", "assistant"]
    )
    add.add_argument("--name", help="full name (default: from the email)")
    add.add_argument("--provider", help="provider id (default: the only provider)")
    add.add_argument("--school", help="school id (required for assistants)")
    agent = sub.add_parser("agent", help="run a device agent (robot or tablet end)")
    agent.add_argument("--server", required=True, help="the service's base URL")
    agent.add_argument("--pair", help="pairing code (or the URL in its QR code)")
    agent.add_argument(
        "--credential-file",
        default="./var/device-credential",
        help="where the device credential is kept (0600)",
    )
    agent.add_argument(
        "--hardware",
        choices=["synthetic", "linux"],
        default="synthetic",
        help="synthetic battery, or the OS's battery and network readings",
    )
    agent.add_argument("--model", default="Classbridge synthetic robot")
    login = sub.add_parser("login", help="sign in to a service for command-line use")
    login.add_argument("--server", help="the service's base URL (default CLASSBRIDGE_PUBLIC_URL)")
    login.add_argument("--email", required=True)
    timetable = sub.add_parser("import-timetable", help="import a pupil's timetable export")
    timetable.add_argument(
        "file", type=Path, help="the export: .ics, .csv, a OneRoster .zip or its folder"
    )
    timetable.add_argument("--pupil", required=True, help="the pupil's code (e.g. SAMK42)")
    timetable.add_argument("--server", help="the service's base URL (default: as at login)")
    timetable.add_argument("--token", help="API token (default CLASSBRIDGE_TOKEN, or login's)")
    timetable.add_argument(
        "--format", choices=["ical", "csv", "oneroster"], help="default: guessed"
    )
    timetable.add_argument("--roster-id", help="OneRoster: the pupil's sourcedId or identifier")
    timetable.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
    return parser


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    from aiohttp import web

    from telepresence.app import create_app
    from telepresence.platform.operations.collector import freeze_startup_objects
    from telepresence.platform.operations.logging import configure_logging
    from telepresence.platform.operations.metrics import HttpLatencyLog
    from telepresence.platform.operations.shutdown import install_bounded_shutdown

    configure_logging(settings.log_level, json_logs=settings.log_json)
    console.print(
        f"Classbridge listening on [bold]http://{host or settings.host}:"
        f"{port or settings.port}[/bold] (Ctrl+C stops it)"
    )
    app = create_app(settings)
    install_bounded_shutdown(app)
    app.on_startup.append(freeze_startup_objects)
    web.run_app(
        app,
        host=host or settings.host,
        port=port or settings.port,
        print=None,
        # Not an access log: the hook times requests by route for /metrics.
        access_log_class=HttpLatencyLog,
        access_log=logging.getLogger("classbridge.access"),
        # Handlers still running (event streams, an upload being parsed) are waited for
        # twice this (aiohttp waits, cancels the request, waits again): half the budget.
        # The rest is for closing down; the process ends by shutdown_seconds regardless.
        shutdown_timeout=settings.shutdown_seconds / 4,
    )
    return 0


def _gateway(settings: Settings, args: argparse.Namespace) -> int:
    # Imports the gateway only: no create_app, no ORM, no pages (that is its point).
    from device_registry.gateway.server import run_gateway
    from device_registry.gateway.store import plain_dsn
    from telepresence.platform.operations.logging import configure_logging

    try:
        plain_dsn(settings.effective_database_url)
    except ValueError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        return 2
    configure_logging(settings.log_level, json_logs=settings.log_json)
    host = args.host or settings.host
    console.print(f"Classbridge device gateway on [bold]ws://{host}:{args.port}/ws/device[/bold]")
    run_gateway(settings, host, args.port)
    return 0


def _db_upgrade(settings: Settings) -> int:
    from telepresence.dbmigrate import upgrade

    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    console.print("[green]Database is at the latest version.[/green]")
    return 0


def _user_add(settings: Settings, args: argparse.Namespace) -> int:
    from telepresence.accounts import add_user_cli

    password = None
    if not sys.stdin.isatty():
        password = sys.stdin.readline().strip() or None
    elif console.is_terminal:
        password = getpass.getpass("Password (empty: generate one): ") or None
    return asyncio.run(add_user_cli(settings, args, password, console))


def _provider_add(settings: Settings, args: argparse.Namespace) -> int:
    from telepresence.accounts import add_provider_cli

    return asyncio.run(add_provider_cli(settings, args.name, console))


def _demo(settings: Settings, _args: argparse.Namespace) -> int:
    from telepresence.demo import seed_demo_cli

    return asyncio.run(seed_demo_cli(settings, console))


def _agent(_settings: Settings, args: argparse.Namespace) -> int:
    from telepresence.agent.run import run_agent_cli

    return run_agent_cli(args, console)


def _import_timetable(settings: Settings, args: argparse.Namespace) -> int:
    from scheduler.timetables.cli import import_timetable_cli

    return asyncio.run(import_timetable_cli(args, settings.base_url, console, err))


def _login(settings: Settings, args: argparse.Namespace) -> int:
    from scheduler.timetables.cli import login_cli

    password = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass()
    return asyncio.run(login_cli(args, password, settings.base_url, console, err))


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": lambda settings, args: _serve(settings, args.host, args.port),
    "db": lambda settings, _args: _db_upgrade(settings),
    "gateway": _gateway,
    "demo": _demo,
    "provider": _provider_add,
    "user": _user_add,
    "agent": _agent,
    "import-timetable": _import_timetable,
    "login": _login,
}


def _database_problem(settings: Settings, exc: BaseException) -> str | None:
    """What an operator should read when the database is unreachable or not migrated.

    ``None`` for anything else (a bug keeps its traceback).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, (OSError, DBAPIError)):
        return None
    url = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    cause = str(getattr(exc, "orig", None) or exc).splitlines()[0].strip()
    if "no such table" in cause or ("relation" in cause and "does not exist" in cause):
        return (
            f"The database at {url} has no Classbridge tables, or older ones ({cause}). "
            "Run `classbridge db upgrade` first."
        )
    if cause.startswith("database") and cause.endswith("does not exist"):
        return (
            f"Cannot use the database at {url}: {cause}. Create it (deploy/README.md, "
            "step 2: `createdb -O classbridge NAME`), then run `classbridge db upgrade`."
        )
    if "unable to open database file" in cause:
        return (
            f"Cannot open the SQLite file of {url}: its folder (CLASSBRIDGE_DATA_DIR) must "
            "exist and be writable; `classbridge db upgrade` creates it and the tables."
        )
    return (
        f"Cannot use the database at {url}: {cause}. Check CLASSBRIDGE_DATABASE_URL "
        "(host, port, database name, password) and that the server runs; "
        "a new database needs `classbridge db upgrade`."
    )


USES_THE_DATABASE = frozenset({"serve", "demo", "provider", "user"})


def _missing_sqlite_file(settings: Settings, command: str) -> str | None:
    """A SQLite file that is not there yet: said before SQLite creates an empty one."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    if command not in USES_THE_DATABASE or url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:" or Path(url.database).exists():
        return None
    return f"There is no database at {url.database} yet: run `classbridge db upgrade` first."


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (2 for bad input, 1 for an unusable database)."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        return 2
    missing = _missing_sqlite_file(settings, args.command)
    if missing is not None:
        err.print(f"[red]Database error:[/red] {missing}", markup=True, highlight=False)
        return 1
    try:
        return COMMANDS[args.command](settings, args)
    except Exception as exc:
        problem = _database_problem(settings, exc)
        if problem is None:
            raise
        err.print(f"[red]Database error:[/red] {problem}", markup=True, highlight=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
