"""The other side of ``bench/device_sockets.py``: the fleet of client sockets and the bare server.

- ``run_clients`` (``--role clients``): one asyncio process holding all N
  device websockets, opened at a given rate; each says hello, waits for the
  welcome and sends a heartbeat every period at a random phase. It prints
  what it saw as JSON lines for the parent. What the heartbeats report
  (``READINGS``): ``random`` (a random battery, charging and room each time:
  every heartbeat is a change the rota acts on) or ``drifting`` (a battery
  that drains 1 % every ~5 minutes and charges when low, a room changed about
  once an hour, the signal jittering).
- ``run_bare`` (``--role bare``): the baseline, a bare aiohttp websocket
  server answering the hello and reading heartbeats, nothing else.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

HELLO = json.dumps(
    {
        "type": "hello",
        "protocol": [1],
        "model": "bench robot",
        "software_version": "bench-1",
        "capabilities": [],
    }
)


# --------------------------------------------------------------------------- clients role


@dataclass
class FleetStats:
    """What the client process saw; printed as JSON lines for the parent."""

    connected: int = 0
    failed: int = 0
    dropped: int = 0
    heartbeats: int = 0
    errors: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.failures[reason] = self.failures.get(reason, 0) + 1


READINGS = ("random", "drifting")
"""What heartbeats report: see the module's docstring."""


class Readings:
    """One device's heartbeats, as ``random`` or ``drifting`` readings (``READINGS``)."""

    def __init__(self, kind: str, rng: random.Random) -> None:
        self.kind, self.rng = kind, rng
        self.battery, self.charging, self.signal, self.room = 100, False, -60, 1
        if kind == "drifting":  # (random draws nothing here: the same numbers as before)
            self.battery = rng.randint(20, 100)
            self.charging = rng.random() < 0.3
            self.signal = rng.randint(-80, -40)
            self.room = rng.randint(1, 40)

    def next(self, seq: int) -> str:
        rng = self.rng
        if self.kind == "random":
            battery, charging = rng.randint(5, 100), rng.random() < 0.3
            signal, room = rng.randint(-90, -30), rng.randint(1, 40)
        else:
            # 15 s heartbeats: -1 % every ~5 minutes, +1 % every ~2 minutes on the charger,
            # to the charger below 20 % and off it when full; another room about hourly.
            if self.charging and rng.random() < 1 / 8:
                self.battery = min(100, self.battery + 1)
            elif not self.charging and rng.random() < 1 / 20:
                self.battery = max(0, self.battery - 1)
            if self.battery < 20 or self.battery == 100:
                self.charging = self.battery < 20
            if rng.random() < 1 / 240:
                self.room = rng.randint(1, 40)
            self.signal = max(-90, min(-30, self.signal + rng.randint(-3, 3)))
            battery, charging, signal, room = self.battery, self.charging, self.signal, self.room
        return json.dumps(
            {
                "type": "heartbeat",
                "seq": seq,
                "battery_pct": battery,
                "charging": charging,
                "signal_dbm": signal,
                "network_type": "wifi",
                "room": f"R{room}",
            }
        )


async def _open(
    session: aiohttp.ClientSession, url: str, token: str, stats: FleetStats
) -> aiohttp.ClientWebSocketResponse | None:
    """Connect, say hello and wait for the welcome; None (counted) on failure."""
    try:
        async with asyncio.timeout(60):
            ws = await session.ws_connect(
                url, headers={"Authorization": f"Bearer {token}"}, autoping=True
            )
            await ws.send_str(HELLO)
            msg = await ws.receive()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        stats.fail(type(exc).__name__)
        return None
    if msg.type != WSMsgType.TEXT or json.loads(msg.data).get("type") != "welcome":
        stats.fail(f"no welcome ({msg.type.name})")
        await ws.close()
        return None
    return ws


async def _device(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    period: float,
    stats: FleetStats,
    gate: asyncio.Semaphore,
    readings: str,
) -> None:
    """One device: connect, then heartbeat at a random phase until the socket ends."""
    async with gate:
        ws = await _open(session, url, token, stats)
    if ws is None:
        return
    stats.connected += 1
    rng = random.Random(token)
    heartbeats = Readings(readings, rng)
    loop = asyncio.get_running_loop()
    due, seq = loop.time() + rng.uniform(0, period), 0
    while True:
        remaining = due - loop.time()
        if remaining <= 0:
            await ws.send_str(heartbeats.next(seq))
            stats.heartbeats, seq, due = stats.heartbeats + 1, seq + 1, due + period
            continue
        try:
            msg = await ws.receive(timeout=remaining)
        except TimeoutError:
            continue
        if msg.type in {WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR}:
            stats.dropped += 1
            return
        stats.errors += 1  # the server only writes to an idle device to refuse something


def _say(event: str, stats: FleetStats, **extra: Any) -> None:
    print(json.dumps({"event": event, **stats.__dict__, **extra}), flush=True)


async def run_clients(
    url: str,
    tokens: list[str],
    rate: float,
    inflight: int,
    period: float,
    readings: str = "random",
) -> None:
    """Open sockets at ``rate`` a second, at most ``inflight`` handshakes at a time.

    Reports "ready" once every socket is open or has failed, and "summary" on SIGTERM.
    """
    stats = FleetStats()
    gate = asyncio.Semaphore(inflight)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = loop.time()
        tasks = []
        for i, token in enumerate(tokens):
            await asyncio.sleep(max(0.0, started + i / rate - loop.time()))
            tasks.append(
                loop.create_task(_device(session, url, token, period, stats, gate, readings))
            )
        while stats.connected + stats.failed < len(tokens) and not stop.is_set():
            await asyncio.sleep(0.1)
        _say("ready", stats, seconds=round(loop.time() - started, 1))
        await stop.wait()
        _say("summary", stats, open=stats.connected - stats.dropped)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --------------------------------------------------------------------------- bare role


async def _bare_socket(request: web.Request) -> web.WebSocketResponse:
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        raise web.HTTPUnauthorized
    ws = web.WebSocketResponse(max_msg_size=1_048_576)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT and json.loads(msg.data).get("type") == "hello":
            await ws.send_json({"type": "welcome", "protocol": 1})
    return ws


async def _bare_health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def run_bare(port: int) -> None:
    """The baseline: a bare aiohttp websocket server with the same message pattern."""
    app = web.Application()
    app.router.add_get("/ws/device", _bare_socket)
    app.router.add_get("/healthz", _bare_health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
