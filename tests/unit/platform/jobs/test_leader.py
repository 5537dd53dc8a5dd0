"""Leader election without PostgreSQL: SQLite's single instance leads, and stands again."""

from __future__ import annotations

import asyncio

from telepresence.platform.jobs.leader import LeaderElection


def leads(election: LeaderElection) -> bool:
    """Read the flag through a call (mypy would narrow the attribute across awaits)."""
    return election.is_leader


class Transitions:
    """Records elections; the first ``failures`` of them fail."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.log: list[str] = []

    async def elected(self) -> None:
        self.log.append("elected")
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the scheduler could not start")

    async def deposed(self) -> None:
        self.log.append("deposed")


async def test_the_single_sqlite_instance_leads_until_closed() -> None:
    seen = Transitions()
    election = LeaderElection(
        "sqlite+aiosqlite:///x", on_elected=seen.elected, on_deposed=seen.deposed
    )
    await election.start()
    assert election.is_leader
    assert election.backend_pid is None
    await election.close()
    await election.close()  # idempotent
    assert not leads(election)
    assert seen.log == ["elected", "deposed"]


async def test_a_failed_start_gives_leadership_up_and_stands_again() -> None:
    seen = Transitions(failures=1)
    election = LeaderElection(
        "sqlite+aiosqlite:///x",
        on_elected=seen.elected,
        on_deposed=seen.deposed,
        retry_seconds=0.05,
    )
    await election.start()
    assert not election.is_leader
    for _ in range(100):
        if leads(election):
            break
        await asyncio.sleep(0.01)
    assert leads(election)
    assert seen.log == ["elected", "deposed", "elected"]
    await election.close()
