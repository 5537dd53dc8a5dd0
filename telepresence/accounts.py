"""``classbridge user add``: create an account from the command line."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import select

from telepresence.organisation.schemas import UserIn
from telepresence.organisation.services import add_user
from telepresence.platform.database import Database
from telepresence.platform.errors import DomainError
from telepresence.platform.models import Provider
from telepresence.platform.settings import Settings

__all__ = ["add_provider_cli", "add_user_cli"]


async def add_provider_cli(settings: Settings, name: str, console: Console) -> int:
    """Create a provider (the hospital school a fresh install serves); prints its id.

    Exit code 2 for an empty or over-long name; nothing is written then.
    """
    name = name.strip()
    if not name or len(name) > 200:
        console.print("[red]The provider's name must be 1 to 200 characters.[/red]")
        return 2
    database = Database(settings.effective_database_url)
    try:
        async with database.transaction() as session:
            provider = Provider(name=name, created_at=datetime.now(UTC))
            session.add(provider)
            await session.flush()
            provider_id = provider.id
    finally:
        await database.close()
    console.print(f"Created provider [bold]{name}[/bold]: {provider_id}")
    return 0


async def add_user_cli(
    settings: Settings, args: argparse.Namespace, password: str | None, console: Console
) -> int:
    """Create the account; prints a generated password once. Exit code 2 on bad input."""
    database = Database(settings.effective_database_url)
    try:
        async with database.transaction() as session:
            provider_id = args.provider
            if provider_id is None:
                providers = list(await session.scalars(select(Provider.id).limit(2)))
                if len(providers) != 1:
                    console.print(
                        "[red]Name the provider with --provider "
                        f"(there are {len(providers)}).[/red]"
                    )
                    return 2
                provider_id = providers[0]
            name = args.name or args.email.split("@")[0].replace(".", " ").title()
            data = UserIn(
                email=args.email,
                name=name,
                role=args.role,
                school_id=args.school,
                password=password,
            )
            user, generated = await add_user(session, provider_id, data, datetime.now(UTC))
    except ValidationError as exc:
        for e in exc.errors(include_url=False, include_input=False):
            console.print(f"[red]{'.'.join(map(str, e['loc']))}: {e['msg']}[/red]")
        return 2
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        return 2
    finally:
        await database.close()
    console.print(f"Created {user.role} account for [bold]{user.email}[/bold].")
    if generated:
        console.print(f"Password (shown once): [bold]{generated}[/bold]")
    return 0
