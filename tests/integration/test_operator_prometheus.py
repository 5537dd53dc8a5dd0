"""What an operator does with deploy/prometheus/: a real Prometheus watching two instances.

Two ``classbridge`` processes share one PostgreSQL database, as in
deploy/README.md. Debian's Prometheus runs with the shipped
``prometheus.yml`` (only the targets, the token file and the intervals are
changed for the test) and the shipped alert rules, and is asked, through its
own HTTP API, what an operator would look at: both instances up, exactly one
leader, each instance's event bridge connected, the rules loaded and quiet.
Then the leader is stopped: Prometheus sees it down, the other instance takes
the lead, and the instance-down alert starts (pending: its ``for`` is minutes).

The static checks are ``promtool check config``, ``check rules`` and
``check metrics`` on what an instance really serves, and deploy/README.md's
table of metrics against the names and help texts really served.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import yaml

from telepresence.dbmigrate import upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
ROOT = Path(__file__).parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PG_SERVER = os.environ.get(
    "CLASSBRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TOKEN = "operator-metrics-token-" + "x" * 16
LEADER_CHECK_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tool(name: str) -> str:
    """Debian's prometheus package (``make prometheus``); a missing tool fails, never skips."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(f"{name} is required (apt-get install prometheus, or `make prometheus`)")
    return path


@pytest.fixture
def own_database() -> Iterator[str]:
    """A database of this test's own with the schema, dropped at the end."""
    name = f"classbridge_prom_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_SERVER, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_SERVER} is required: {exc}", pytrace=False)
    url = PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{url}/{name}"
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def start_instance(url: str, data_dir: Path, port: int) -> asyncio.subprocess.Process:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CLASSBRIDGE_DATABASE_URL": url,
        "CLASSBRIDGE_DATA_DIR": str(data_dir),
        "CLASSBRIDGE_PORT": str(port),
        "CLASSBRIDGE_HOST": "127.0.0.1",
        "CLASSBRIDGE_SECRET_KEY": "prometheus-test-secret-key-0123456789",
        "CLASSBRIDGE_METRICS_TOKEN": TOKEN,
        "CLASSBRIDGE_RUN_JOBS": "true",
        "CLASSBRIDGE_LEADER_CHECK_SECONDS": str(LEADER_CHECK_SECONDS),
        "CLASSBRIDGE_LOG_JSON": "false",
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telepresence.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
    return process


async def wait_for_http(address: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                raise AssertionError(f"{address}: the process ended ({process.returncode})")
            try:
                async with http.get(address) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{address} did not answer within 30 s")


def prometheus_config(tmp_path: Path, targets: list[str]) -> Path:
    """The shipped prometheus.yml with this test's targets, token file and 1 s intervals."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    (job,) = config["scrape_configs"]
    token_file = tmp_path / "classbridge-metrics-token"
    token_file.write_text(TOKEN + "\n")
    job["authorization"]["credentials_file"] = str(token_file)
    job["static_configs"] = [{"targets": targets}]
    for rule_file in config["rule_files"]:
        shutil.copy(PROMETHEUS_DIR / rule_file, tmp_path / rule_file)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class Prometheus:
    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.base = f"http://127.0.0.1:{port}/api/v1"

    async def get(self, path: str, **params: str) -> Any:
        async with self.http.get(f"{self.base}/{path}", params=params) as resp:
            body = await resp.json()
        assert body["status"] == "success", body
        return body["data"]

    async def vector(self, query: str) -> dict[str, float]:
        """An instant query: each series' ``instance`` (or "") to its value."""
        data = await self.get("query", query=query)
        return {r["metric"].get("instance", ""): float(r["value"][1]) for r in data["result"]}

    async def until(self, query: str, check: Any, seconds: float = 30.0) -> dict[str, float]:
        last: dict[str, float] = {}
        for _ in range(int(seconds * 4)):
            last = await self.vector(query)
            if check(last):
                return last
            await asyncio.sleep(0.25)
        raise AssertionError(f"{query}: still {last} after {seconds} s")

    async def alert_states(self) -> dict[str, str]:
        data = await self.get("rules", type="alert")
        return {rule["name"]: rule["state"] for group in data["groups"] for rule in group["rules"]}


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_prometheus_sees_two_instances_one_leader_and_a_failover(own_database, tmp_path):
    ports = [free_port(), free_port()]
    targets = [f"127.0.0.1:{p}" for p in ports]
    config = prometheus_config(tmp_path, targets)
    check = subprocess.run(
        [tool("promtool"), "check", "config", str(config)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr

    instances = [
        await start_instance(own_database, tmp_path / f"instance-{n}", port)
        for n, port in enumerate(ports)
    ]
    prom_port = free_port()
    prom = await asyncio.create_subprocess_exec(
        tool("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for_http(f"http://127.0.0.1:{prom_port}/-/ready", prom)
        async with aiohttp.ClientSession() as http:
            api = Prometheus(http, prom_port)
            # Both instances scraped with the shipped job and the bearer token.
            up = await api.until(
                'up{job="classbridge"}', lambda v: v == dict.fromkeys(targets, 1.0)
            )
            assert up == dict.fromkeys(targets, 1.0)
            # One leader between them, and each one's LISTEN/NOTIFY connection is up.
            leaders = await api.until(
                "classbridge_leader", lambda v: len(v) == 2 and sum(v.values()) == 1.0
            )
            leader = next(instance for instance, value in leaders.items() if value == 1.0)
            bridges = await api.until(
                "classbridge_event_bridge_connected", lambda v: v == dict.fromkeys(targets, 1.0)
            )
            assert bridges == dict.fromkeys(targets, 1.0)
            # Fleet gauges read from the one database: the same on both instances.
            fleet = await api.until(
                'classbridge_devices_online{kind="robot"}', lambda v: len(v) == 2
            )
            assert set(fleet.values()) == {0.0}
            memory = await api.vector('process_resident_memory_bytes{job="classbridge"}')
            assert set(memory) == set(targets)
            assert all(v > 10e6 for v in memory.values())
            builds = await api.get("query", query="classbridge_build_info")
            assert {r["metric"]["version"] for r in builds["result"]} != {"unknown"}

            # The shipped rules are loaded, and nothing fires on a healthy pair.
            await api.until("sum(classbridge_leader)", lambda v: v == {"": 1.0})
            states = await api.alert_states()
            assert "ClassbridgeInstanceDown" in states
            assert "ClassbridgeNoLeader" in states
            assert set(states.values()) == {"inactive"}, states

            # The leader stops: Prometheus sees it down, the other takes the lead.
            stopped = targets.index(leader)
            await stop(instances[stopped])
            survivor = targets[1 - stopped]
            await api.until(f'up{{instance="{leader}"}}', lambda v: v == {leader: 0.0})
            await api.until(
                f'classbridge_leader{{instance="{survivor}"}}',
                lambda v: v == {survivor: 1.0},
                seconds=30.0,
            )
            # Down is noticed (pending: its ``for`` is 2 minutes); the lead moved, so
            # no-leader, pending at most for the gap, is quiet again.
            for _ in range(40):
                states = await api.alert_states()
                down, no_leader = states["ClassbridgeInstanceDown"], states["ClassbridgeNoLeader"]
                if down == "pending" and no_leader == "inactive":
                    break
                await asyncio.sleep(0.25)
            assert states["ClassbridgeInstanceDown"] == "pending", states
            assert states["ClassbridgeNoLeader"] == "inactive", states
    finally:
        await stop(prom)
        for process in instances:
            await stop(process)


def readme_metric_rows() -> list[tuple[str, str]]:
    """(metric name, kind) for each row of deploy/README.md's metrics table."""
    text = (ROOT / "deploy" / "README.md").read_text()
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        for name in re.findall(r"`((?:classbridge|process)_[a-z_]+)", cells[0]):
            rows.append((name, cells[1]))
    return rows


async def test_what_an_instance_serves_passes_promtool_and_matches_the_readme(
    own_database, tmp_path
):
    port = free_port()
    instance = await start_instance(own_database, tmp_path / "instance", port)
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get(f"http://127.0.0.1:{port}/metrics", headers=headers) as resp:
                assert resp.status == 200
                text = await resp.text()
    finally:
        await stop(instance)
    lint = subprocess.run(
        [tool("promtool"), "check", "metrics"],
        input=text,
        check=False,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert not lint.stdout.strip(), lint.stdout
    rules = subprocess.run(
        [tool("promtool"), "check", "rules", str(PROMETHEUS_DIR / "classbridge-alerts.yml")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr

    helps = dict(re.findall(r"^# HELP (\S+) (.*)$", text, flags=re.MULTILINE))
    rows = readme_metric_rows()
    assert len(rows) >= 12, rows
    for name, kind in rows:
        served = name if name in helps else f"{name}_total"
        assert served in helps, f"deploy/README.md names {name}, which /metrics does not serve"
        # The README tells operators to take max, not sum, of gauges whose help says so.
        assert ("fleet" in kind) == helps[served].startswith("Fleet:"), (name, kind)
