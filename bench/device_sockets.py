"""Memory and CPU of N idle device sockets: what serves them against bare aiohttp.

Run from the repository root with the project's venv, no arguments needed::

    .venv/bin/python bench/device_sockets.py            # 10,000 sockets on the gateway
    .venv/bin/python bench/device_sockets.py --sockets 2000 --rate 400
    .venv/bin/python bench/device_sockets.py --serve service   # classbridge serve alone
    .venv/bin/python bench/device_sockets.py --readings drifting --watch  # see below

Three kinds of process take part, all on 127.0.0.1:

- what serves device sockets, with N devices and credentials inserted straight
  into its database after ``classbridge db upgrade``:
  ``--serve gateway`` (the default): ``classbridge gateway`` in front of
  ``classbridge serve``, on a PostgreSQL database of its own (created on
  ``--postgres``, dropped at the end); the gateway's RSS and CPU are the
  measure, the service's over the same window are reported beside them.
  ``--serve service``: ``classbridge serve`` alone on SQLite in a temporary
  data dir (a small install);
- the baseline: a bare aiohttp websocket server (``--role bare``, in ``socket_fleet.py``),
  answering the hello and reading heartbeats, nothing else;
- the clients (``--role clients``, in ``socket_fleet.py``): one asyncio process holding all N
  websockets, opened at ``--rate`` a second; each says hello, waits for the
  welcome and then sends a heartbeat every ``--heartbeat`` seconds at a random
  phase.

``--readings``: what the heartbeats report; ``drifting`` (the default since
2026-12-07, issue 17: idle robots, as the goal says: a battery draining 1 % every
~5 minutes and charging when low, a room changed about hourly) or ``random`` (the
default before: every heartbeat a new battery band and room, a stress case). ``--watch``: a fleet
page open on the bench's provider during the run (a process with the event bridge
subscribed to its fleet topic, as the service's page is), so that every heartbeat's
update crosses to it; without it no page is open and none crosses.

Once every client is in and ``--rounds`` heartbeat rounds have passed, the
server's RSS is read from /proc/PID/status and its CPU from /proc/PID/stat over
``--cpu-rounds`` heartbeat periods (3: 45 s). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import aiohttp
from socket_fleet import READINGS, run_bare, run_clients

GOAL_RATIO = 1.5  # RSS against bare aiohttp's
GOAL_CPU_RATIO = 2.0  # CPU against bare aiohttp's (issue 17)
GOAL_MB = 1024.0
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# --------------------------------------------------------------------------- measuring


def proc_status_kb(pid: int, key: str) -> int:
    """A ``kB`` field (VmRSS, VmHWM) of /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/PID/stat, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(proc: subprocess.Popen[bytes], port: int, deadline_s: float = 60) -> None:
    """Poll GET /healthz until 200; raise if the process dies or time runs out."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was healthy")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("server not healthy in time")


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGINT) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_event(stream: IO[str], name: str) -> dict[str, Any]:
    """The next JSON line of the client process with ``event == name``."""
    for line in stream:
        with contextlib.suppress(ValueError):
            event: dict[str, Any] = json.loads(line)
            if event.get("event") == name:
                return event
    raise RuntimeError(f"client process ended before {name!r}")


@dataclass
class Measurement:
    """One server under N sockets (and, for the gateway, the service behind it)."""

    name: str
    behind_rss_kb: int = 0
    behind_cpu_pct: float = 0.0
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    hwm_kb: int = 0
    cpu_pct: float = 0.0
    client_rss_kb: int = 0
    ready: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    alive: bool = True
    fleet_updates: int | None = None
    """Heartbeats' and presence updates an open fleet page got (``--watch``)."""

    @property
    def open_sockets(self) -> int:
        return int(self.summary.get("open", self.ready.get("connected", 0)))

    @property
    def rss_mb(self) -> float:
        return self.rss_after_kb / 1024

    @property
    def per_socket_kb(self) -> float:
        return (self.rss_after_kb - self.rss_before_kb) / max(1, self.open_sockets)


def sleep_watching(proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} under load")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def measure(
    name: str,
    server: subprocess.Popen[bytes],
    port: int,
    tokens: Path,
    args: argparse.Namespace,
    behind: subprocess.Popen[bytes] | None = None,
) -> Measurement:
    """Connect the fleet to a healthy server, let it settle, read RSS and CPU.

    ``behind``: the service behind a gateway, read over the same window.
    """
    m = Measurement(name)
    wait_healthy(server, port)
    time.sleep(2)
    m.rss_before_kb = proc_status_kb(server.pid, "VmRSS")
    client = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role",
            "clients",
            "--port",
            str(port),
            "--tokens",
            str(tokens),
            "--rate",
            str(args.rate),
            "--inflight",
            str(args.inflight),
            "--heartbeat",
            str(args.heartbeat),
            "--readings",
            args.readings,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None
        m.ready = read_event(client.stdout, "ready")
        print(
            f"  {name}: {m.ready['connected']} connected, {m.ready['failed']} failed "
            f"in {m.ready['seconds']} s {m.ready['failures'] or ''}; "
            f"settling {args.rounds} heartbeat rounds",
            flush=True,
        )
        sleep_watching(server, args.rounds * args.heartbeat)
        m.rss_after_kb = proc_status_kb(server.pid, "VmRSS")
        m.hwm_kb = proc_status_kb(server.pid, "VmHWM")
        m.client_rss_kb = proc_status_kb(client.pid, "VmRSS")
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        behind0 = cpu_seconds(behind.pid) if behind is not None else 0.0
        sleep_watching(server, args.cpu_rounds * args.heartbeat)
        took = time.monotonic() - t0
        m.cpu_pct = 100 * (cpu_seconds(server.pid) - cpu0) / took
        if behind is not None:
            m.behind_cpu_pct = 100 * (cpu_seconds(behind.pid) - behind0) / took
            m.behind_rss_kb = proc_status_kb(behind.pid, "VmRSS")
        client.send_signal(signal.SIGTERM)
        m.summary = read_event(client.stdout, "summary")
    except RuntimeError:
        m.alive = server.poll() is None
        raise
    finally:
        stop_process(client, signal.SIGTERM)
    return m


# --------------------------------------------------------------------------- the service


async def _seed(database_url: str, n: int) -> list[str]:
    """Insert one provider, N robots and their credentials; return the tokens."""
    from sqlalchemy import insert

    from device_registry.models import Device, DeviceCredential
    from telepresence.platform.database import Database, new_id
    from telepresence.platform.models import Provider
    from telepresence.platform.security.identity import TokenKind, hash_token, new_token

    now = datetime.now(UTC)
    tokens = [new_token(TokenKind.DEVICE) for _ in range(n)]
    ids = [new_id() for _ in range(n)]
    devices = [
        {
            "id": d,
            "provider_id": "bench",
            "serial": f"BENCH-{i:06d}",
            "name": f"Robot {i}",
            "model": "AV1",
            "kind": "robot",
            "capabilities": [],
            "lifecycle": "active",
            "created_at": now,
            "paired_at": now,
            "online": False,
        }
        for i, d in enumerate(ids)
    ]
    credentials = [
        {"id": new_id(), "device_id": d, "token_hash": hash_token(t), "created_at": now}
        for d, t in zip(ids, tokens, strict=True)
    ]
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            await session.execute(
                insert(Provider), [{"id": "bench", "name": "Bench", "created_at": now}]
            )
            await session.execute(insert(Device), devices)
            await session.execute(insert(DeviceCredential), credentials)
    finally:
        await database.close()
    return tokens


def classbridge_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "classbridge"
    if script.exists():
        return [str(script)]
    found = shutil.which("classbridge")
    return [found] if found else [sys.executable, "-m", "telepresence.cli"]


def service_env(data_dir: Path, port: int, database_url: str = "") -> dict[str, str]:
    return {
        **os.environ,
        "CLASSBRIDGE_DATA_DIR": str(data_dir),
        "CLASSBRIDGE_DATABASE_URL": database_url,
        "CLASSBRIDGE_HOST": "127.0.0.1",
        "CLASSBRIDGE_PORT": str(port),
        "CLASSBRIDGE_HEARTBEAT_SECONDS": "15",
        "CLASSBRIDGE_LOG_LEVEL": "WARNING",
    }


@contextlib.contextmanager
def running(
    cmd: list[str], env: dict[str, str] | None, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop_process(proc)


def bench_service(work: Path, args: argparse.Namespace) -> tuple[Measurement, Path]:
    """Migrate, seed and serve a fresh SQLite service; measure it under the fleet."""
    port = free_port()
    env = service_env(work / "data", port)
    subprocess.run(
        [*classbridge_command(), "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    url = f"sqlite+aiosqlite:///{(work / 'data' / 'classbridge.sqlite3').resolve()}"
    tokens = asyncio.run(_seed(url, args.sockets))
    token_file = work / "tokens.txt"
    token_file.write_text("\n".join(tokens) + "\n")
    token_file.chmod(0o600)
    print(f"  seeded {len(tokens)} devices; starting classbridge serve on :{port}", flush=True)
    with running([*classbridge_command(), "serve"], env, work / "classbridge.log") as server:
        return measure("serve", server, port, token_file, args), token_file


async def _postgres(server: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def bench_database(server: str) -> Iterator[str]:
    """A PostgreSQL database of the bench's own on ``server``; its SQLAlchemy URL."""
    name = f"classbridge_bench_gateway_{os.getpid()}"
    asyncio.run(_postgres(server, f'CREATE DATABASE "{name}"'))
    try:
        base = server.rsplit("/", 1)[0] if server.count("/") > 2 else server
        yield base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    finally:
        asyncio.run(_postgres(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _watch(database_url: str, topic: str) -> None:
    """A fleet page's subscription, over the event bridge: counts the updates it gets."""
    from device_registry.links import FLEET_TOPICS
    from telepresence.platform.events.eventbridge import PostgresEventBridge
    from telepresence.platform.events.events import EventHub

    hub = EventHub()
    hub.on_demand(FLEET_TOPICS)
    bridge = PostgresEventBridge(database_url, hub)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await bridge.start()
    seen = 0
    try:
        async with hub.subscribe(topic, size=100_000) as queue:
            print(json.dumps({"event": "ready"}), flush=True)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(queue.get(), 0.5)
                    seen += 1
                while not queue.empty():
                    queue.get_nowait()
                    seen += 1
    finally:
        await bridge.close()
    print(json.dumps({"event": "summary", "fleet_updates": seen}), flush=True)


@contextlib.contextmanager
def fleet_page(database_url: str, enabled: bool) -> Iterator[dict[str, Any]]:
    """With ``enabled``, a watcher process (``--role watcher``) for the bench provider's fleet
    page while the block runs; yields what it saw (filled in when it stops)."""
    seen: dict[str, Any] = {}
    if not enabled:
        yield seen
        return
    cmd = [sys.executable, __file__, "--role", "watcher", "--dsn", database_url]
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None
        read_event(watcher.stdout, "ready")
        yield seen
        watcher.send_signal(signal.SIGTERM)
        seen.update(read_event(watcher.stdout, "summary"))
    finally:
        stop_process(watcher, signal.SIGTERM)


def bench_gateway(work: Path, args: argparse.Namespace) -> tuple[Measurement, Path]:
    """Migrate and seed PostgreSQL; run the service and the gateway; measure the gateway."""
    with bench_database(args.postgres) as url:
        service_port, gateway_port = free_port(), free_port()
        env = service_env(work / "data", service_port, url)
        subprocess.run(
            [*classbridge_command(), "db", "upgrade"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tokens = asyncio.run(_seed(url, args.sockets))
        token_file = work / "tokens.txt"
        token_file.write_text("\n".join(tokens) + "\n")
        token_file.chmod(0o600)
        print(
            f"  seeded {len(tokens)} devices on PostgreSQL; classbridge serve on :{service_port}, "
            f"classbridge gateway on :{gateway_port}",
            flush=True,
        )
        gateway_cmd = [*classbridge_command(), "gateway", "--port", str(gateway_port)]
        with (
            running([*classbridge_command(), "serve"], env, work / "classbridge.log") as service,
            running(gateway_cmd, env, work / "gateway.log") as gateway,
            fleet_page(url, args.watch) as page,
        ):
            wait_healthy(service, service_port)
            m = measure("gateway", gateway, gateway_port, token_file, args, behind=service)
        m.fleet_updates = page.get("fleet_updates")
        return m, token_file


def bench_bare(work: Path, tokens: Path, args: argparse.Namespace) -> Measurement:
    port = free_port()
    print(f"  starting the bare aiohttp server on :{port}", flush=True)
    cmd = [sys.executable, __file__, "--role", "bare", "--port", str(port)]
    with running(cmd, None, work / "bare.log") as server:
        return measure("bare aiohttp", server, port, tokens, args)


# --------------------------------------------------------------------------- report


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"aiohttp {aiohttp.__version__}"
    )


def table(real: Measurement, bare: Measurement) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "-"

    rows = [
        ("sockets open at the end", f"{real.open_sockets}", f"{bare.open_sockets}", ""),
        (
            "failed to connect / dropped",
            f"{real.ready['failed']} / {real.summary['dropped']}",
            f"{bare.ready['failed']} / {bare.summary['dropped']}",
            "",
        ),
        ("time to connect all (s)", f"{real.ready['seconds']}", f"{bare.ready['seconds']}", ""),
        (
            "RSS before connecting (MB)",
            f"{real.rss_before_kb / 1024:.1f}",
            f"{bare.rss_before_kb / 1024:.1f}",
            ratio(real.rss_before_kb, bare.rss_before_kb),
        ),
        (
            "RSS with N sockets (MB)",
            f"{real.rss_mb:.1f}",
            f"{bare.rss_mb:.1f}",
            ratio(real.rss_mb, bare.rss_mb),
        ),
        (
            "peak RSS, VmHWM (MB)",
            f"{real.hwm_kb / 1024:.1f}",
            f"{bare.hwm_kb / 1024:.1f}",
            ratio(real.hwm_kb, bare.hwm_kb),
        ),
        (
            "RSS per socket (KB)",
            f"{real.per_socket_kb:.1f}",
            f"{bare.per_socket_kb:.1f}",
            ratio(real.per_socket_kb, bare.per_socket_kb),
        ),
        (
            "CPU, % of one core",
            f"{real.cpu_pct:.1f}",
            f"{bare.cpu_pct:.1f}",
            ratio(real.cpu_pct, bare.cpu_pct),
        ),
        (
            "client process RSS (MB)",
            f"{real.client_rss_kb / 1024:.1f}",
            f"{bare.client_rss_kb / 1024:.1f}",
            "",
        ),
    ]
    if real.behind_rss_kb:
        rows += [
            ("the service behind it: RSS (MB)", f"{real.behind_rss_kb / 1024:.1f}", "", ""),
            ("the service behind it: CPU, % of one core", f"{real.behind_cpu_pct:.1f}", "", ""),
        ]
    head = ("", f"classbridge {real.name}", "bare aiohttp", "ratio")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def result(real: Measurement, bare: Measurement, args: argparse.Namespace) -> dict[str, Any]:
    ratio = real.rss_mb / bare.rss_mb
    cpu_ratio = real.cpu_pct / bare.cpu_pct if bare.cpu_pct else float("inf")
    return {
        "bench": "device_sockets",
        "value": round(real.rss_mb, 1),
        "unit": "MB",
        "baseline": round(bare.rss_mb, 1),
        "ratio": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 2),
        "goal": f"<={GOAL_RATIO} RSS and <={GOAL_CPU_RATIO} CPU",
        "met": ratio <= GOAL_RATIO
        and cpu_ratio <= GOAL_CPU_RATIO
        and real.rss_mb < GOAL_MB
        and real.open_sockets == args.sockets,
        "sockets": args.sockets,
        "open_sockets": real.open_sockets,
        "bare_open_sockets": bare.open_sockets,
        "rss_per_socket_kb": round(real.per_socket_kb, 2),
        "bare_rss_per_socket_kb": round(bare.per_socket_kb, 2),
        "cpu_pct": round(real.cpu_pct, 1),
        "bare_cpu_pct": round(bare.cpu_pct, 1),
        "peak_rss_mb": round(real.hwm_kb / 1024, 1),
        "serve": args.serve,
        "service_behind_rss_mb": round(real.behind_rss_kb / 1024, 1) or None,
        "service_behind_cpu_pct": round(real.behind_cpu_pct, 1) if real.behind_rss_kb else None,
        "heartbeat_s": args.heartbeat,
        "readings": args.readings,
        "fleet_page_open": args.watch,
        "fleet_updates_seen": real.fleet_updates,
        "connect_rate": args.rate,
        "connect_inflight": args.inflight,
        "machine": machine(),
    }


# --------------------------------------------------------------------------- entry point


def raise_fd_limit(wanted: int) -> None:
    """Lift the soft RLIMIT_NOFILE towards ``wanted`` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sockets", type=int, default=10_000, help="idle device sockets (N)")
    parser.add_argument("--rate", type=float, default=500, help="new sockets a second, at most")
    parser.add_argument(
        "--inflight", type=int, default=50, help="handshakes (connect to welcome) at a time"
    )
    parser.add_argument("--heartbeat", type=float, default=15.0, help="heartbeat period, s")
    parser.add_argument("--rounds", type=int, default=2, help="heartbeat rounds before measuring")
    parser.add_argument(
        "--cpu-rounds",
        type=int,
        default=3,
        help="heartbeat rounds the CPU is read over (3: 45 s; one 15 s round spread by 0.5)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, db)")
    parser.add_argument(
        "--readings",
        choices=READINGS,
        default="drifting",
        help="what heartbeats report: drifting (idle robots, the goal's case) or random "
        "(every heartbeat a new battery band and room: a stress case)",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="a fleet page open on the bench's provider during the run (gateway only)",
    )
    parser.add_argument(
        "--serve",
        choices=["gateway", "service"],
        default="gateway",
        help="what holds the sockets: classbridge gateway (PostgreSQL) or serve (SQLite)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CLASSBRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server where the bench may create and drop a database (gateway)",
    )
    parser.add_argument(
        "--role",
        choices=["main", "clients", "bare", "watcher"],
        default="main",
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main_role(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="classbridge-bench-"))
    print(
        f"device_sockets: N={args.sockets}, heartbeat {args.heartbeat} s, "
        f"connect rate {args.rate}/s, serving with {args.serve}, {args.readings} readings"
        f"{', a fleet page open' if args.watch else ''}; work dir {work}",
        flush=True,
    )
    try:
        real, tokens = (bench_gateway if args.serve == "gateway" else bench_service)(work, args)
        bare = bench_bare(work, tokens, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"Device sockets, N = {args.sockets}, served by {args.serve} ({machine()})")
    print(table(real, bare))
    print(json.dumps(result(real, bare, args)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit(args.sockets + 1024)
    if args.role == "bare":
        run_bare(args.port)
        return 0
    if args.role == "clients":
        tokens = args.tokens.read_text().split()
        url = f"ws://127.0.0.1:{args.port}/ws/device"
        asyncio.run(
            run_clients(url, tokens, args.rate, args.inflight, args.heartbeat, args.readings)
        )
        return 0
    if args.role == "watcher":
        asyncio.run(_watch(args.dsn, "fleet:bench"))
        return 0
    if args.watch and args.serve != "gateway":
        raise SystemExit("--watch needs --serve gateway (the event bridge is PostgreSQL's)")
    return main_role(args)


if __name__ == "__main__":
    sys.exit(main())
