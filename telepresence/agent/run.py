"""``classbridge agent``: pair if asked, then stay connected until stopped."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from rich.console import Console

from telepresence.agent.client import (
    AgentStopped,
    DeviceAgent,
    load_credential,
    pairing_code_from,
    save_credential,
)
from telepresence.agent.hardware import Hardware, LinuxHardware, SyntheticHardware
from telepresence.platform.operations.logging import configure_logging

__all__ = ["run_agent_cli"]


async def _main(args: argparse.Namespace, console: Console) -> int:
    path = Path(args.credential_file)
    if args.pair:
        code, server = pairing_code_from(args.pair)
        credential = await DeviceAgent.pair(server or args.server, code)
        save_credential(path, credential)
        console.print(f"Paired as [bold]{credential.name}[/bold]; credential saved to {path}.")
    credential = load_credential(path)
    hardware: Hardware = LinuxHardware() if args.hardware == "linux" else SyntheticHardware()
    agent = DeviceAgent(credential, hardware, model=args.model)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await agent.run(stop)
    return 0


def run_agent_cli(args: argparse.Namespace, console: Console) -> int:
    """Exit codes: 0 stopped by a signal, 3 refused by the service (pair again)."""
    configure_logging("INFO", json_logs=True)
    try:
        return asyncio.run(_main(args, console))
    except AgentStopped as exc:
        console.print(f"[red]{exc}[/red]")
        return 3
