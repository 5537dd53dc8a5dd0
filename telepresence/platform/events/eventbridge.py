"""Live events across instances: PostgreSQL LISTEN/NOTIFY carries them between processes.

An instance publishes to its own subscribers at once and forwards the event
to the others through one NOTIFY channel; events are batched (one NOTIFY per
tick, under PostgreSQL's 8,000-byte payload limit) so a busy fleet does not
mean a NOTIFY per heartbeat. Best effort by design: a page that misses an
update gets the next one, and reloads show the database's state. Topics the
hub coalesces (device changes the rota acts on) are not dropped: the latest
event per key waits for the next tick however many arrive.

The LISTEN connection is watched: when PostgreSQL restarts or ends it, the
bridge logs it, reconnects with a bounded backoff (0.5 s doubling to 5 s) and
listens again; what this instance published meanwhile waits in the outbox
(bounded, device changes coalesced) and goes out once connected. Events other
instances sent while this one was disconnected are not replayed (NOTIFY keeps
nothing for a listener that is gone): after reconnecting, the bridge asks for a
resync on ``RESYNC_TOPIC`` instead. It delivers ``{"reconnected": <instance>,
"since": <when the connection was lost>}`` to its own process (re-read what must
arrive from the database: commands, presence) and forwards ``{"asked_by":
<instance>}`` to the others (re-announce what you hold: devices' presence).

A connection can die without a word (a half-open TCP connection: a firewall's
idle timeout, a cable, a failover of the database's address); TCP notices only
when something is sent, and LISTEN sends nothing. So the bridge sends
``SELECT 1`` when the connection has been idle ``check_every`` seconds (5) and
reconnects when no answer comes within ``check_timeout`` (3). Every NOTIFY is
bounded the same way. The server side is asked for TCP keepalives (10 s idle,
5 s apart, 3 probes) so that PostgreSQL also ends a listener whose client is
gone instead of keeping its backend (and the notification queue's tail) for
the system default of two hours; asyncpg has no client-side keepalive setting.

Live views (the hub's ``on_demand`` topics, such as a provider's fleet page) are
wanted only while a page is open: each instance says which of them it subscribes
to (``"wants"``) when that changes and every ``WANTS_EVERY_S`` while it has any,
and asks the others to say theirs when it connects. A publisher elsewhere asks
``EventHub.wanted`` and sends a heartbeat's update only to a page that is open.
What an instance said holds ``WANTS_TTL_S`` unless said again (it may have died).
An instance skips its own NOTIFYs, which PostgreSQL echoes, without decoding them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from telepresence.platform.events.events import EventHub, LatestQueue

__all__ = ["CHANNEL", "RESYNC_TOPIC", "PostgresEventBridge"]

CHANNEL = "classbridge_events"
MAX_PAYLOAD = 7_500
OUTBOX_SIZE = 5_000
APPLICATION_NAME = "classbridge-bridge"
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 5.0
CONNECT_TIMEOUT_S = 5.0
MAX_UNSENT = 1_000  # batches (7.5 MB) kept across connections lost in the middle of a send
CHECK_EVERY_S = 5.0
CHECK_TIMEOUT_S = 3.0
REFUSED_STATEMENT = {"22", "42", "54"}
"""SQLSTATE classes of a statement refused on a healthy connection (a payload too long)."""
RESYNC_TOPIC = "bridge:resync"
"""After a reconnect: ``{"reconnected": instance, "since": iso time}`` to the process
itself, ``{"asked_by": instance}`` to the others (see the module's text)."""
SERVER_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}
WANTS_EVERY_S = 5.0
"""An instance with subscribers of on-demand topics says which this often."""
WANTS_TTL_S = 15.0
"""What another instance said it wants holds this long unless said again."""
log = structlog.get_logger("classbridge.events")
_encode = json.JSONEncoder(default=str).encode  # json.dumps(..., default=str), built once


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain ``postgresql://`` DSN asyncpg takes, from a SQLAlchemy URL (or that DSN)."""
    if sqlalchemy_url.startswith("postgresql://"):
        return sqlalchemy_url
    from sqlalchemy.engine import make_url  # not for the device gateway, which passes a DSN

    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


class PostgresEventBridge:
    """Forwards an ``EventHub``'s events to other instances and back; ``close()`` is idempotent."""

    def __init__(
        self,
        database_url: str,
        hub: EventHub,
        *,
        tick: float = 0.1,
        check_every: float = CHECK_EVERY_S,
        check_timeout: float = CHECK_TIMEOUT_S,
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.hub = hub
        self.tick = tick
        self.check_every = check_every
        """Idle seconds after which the LISTEN connection is asked ``SELECT 1``."""
        self.check_timeout = check_timeout
        """Seconds a check or a NOTIFY may take before the connection is taken for dead."""
        self.instance = uuid.uuid4().hex[:12]
        # Every message starts so; PostgreSQL echoes ours, skipped by this prefix.
        self._head = f'{{"from": {json.dumps(self.instance)}, '
        # Superseded updates (fleet pages): the oldest go when a burst overflows.
        self._outbox: deque[tuple[str, dict[str, Any]]] = deque(maxlen=OUTBOX_SIZE)
        self._latest: dict[str, LatestQueue] = {}
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None
        # Batches a lost connection did not send: first out after reconnecting.
        self._unsent: list[str] = []
        self._per_batch = 1  # events encoded at a time (``_batches``: learnt from their size)
        self._errors: tuple[type[Exception], ...] = (OSError,)
        self.reconnects = 0
        self.unresponsive = 0
        """Connections given up because a check or a NOTIFY got no answer in time."""
        self._answered = time.monotonic()  # the connection's last answer
        self._lost_at = datetime.now(UTC)
        # On-demand topics: what the others said they want (instance: topics, until when;
        # None: every topic), by topic the latest until; what this one last said and when.
        self.clock: Callable[[], float] = time.monotonic
        """The clock of what is wanted and for how long (a test moves it)."""
        self._wants_of: dict[str, tuple[frozenset[str] | None, float]] = {}
        self._wanted_until: dict[str, float] = {}
        self._all_wanted_until = 0.0
        self._said: frozenset[str] | None = None
        self._said_at = 0.0
        self._ask = True

    @property
    def connected(self) -> bool:
        """Whether the LISTEN connection is open (events flow both ways)."""
        return self._open()

    def _open(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        """Connect, listen, and start forwarding this instance's events."""
        import asyncpg  # only deployments on PostgreSQL load the driver

        self._errors = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
        await self._connect()
        self.hub.forward = self._queue
        self.hub.wanted_elsewhere = self.wanted_elsewhere
        self._task = asyncio.get_running_loop().create_task(self._send_loop())

    async def _connect(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(
            self.dsn,
            timeout=CONNECT_TIMEOUT_S,
            server_settings={"application_name": APPLICATION_NAME, **SERVER_KEEPALIVES},
        )
        try:
            await conn.add_listener(CHANNEL, self._received)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        self._answered = time.monotonic()
        # Say what this instance wants, and ask the others theirs (missed while away).
        self._said, self._ask = None, True

    async def _reconnect(self) -> None:
        """Reconnect and listen again, waiting 0.5 s doubling to 5 s between tries; then
        ask for a resync (the events sent to this process meanwhile are lost)."""
        log.warning("event_bridge_disconnected", instance=self.instance)
        self._lost_at = datetime.now(UTC)
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
        delay, tries = RECONNECT_FIRST_S, 0
        while True:
            await asyncio.sleep(delay)
            tries += 1
            try:
                await self._connect()
            except self._errors as exc:
                log.warning("event_bridge_reconnect_failed", tries=tries, error=str(exc))
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            self.reconnects += 1
            log.info("event_bridge_reconnected", instance=self.instance, tries=tries)
            self._resync()
            return

    def _resync(self) -> None:
        """Listening again: this process re-reads what must arrive, the others re-announce.

        Asked after LISTEN is in place, so that anything written after the re-read comes
        by NOTIFY (both may bring it: receivers drop what they already have)."""
        since = self._lost_at - timedelta(seconds=self.check_every + self.check_timeout)
        self.hub.deliver(RESYNC_TOPIC, {"reconnected": self.instance, "since": since.isoformat()})
        self._outbox.append((RESYNC_TOPIC, {"asked_by": self.instance}))

    async def _check(self) -> None:
        """``SELECT 1`` on an idle connection; no answer in time: the connection is dead."""
        if time.monotonic() - self._answered < self.check_every:
            return
        try:
            await self._conn.fetchval("SELECT 1", timeout=self.check_timeout)
        except Exception as exc:
            self._give_up(exc)
        else:
            self._answered = time.monotonic()

    def _give_up(self, exc: Exception) -> None:
        """Replace the connection after ``exc``, unless the server refused one statement only.

        A connection whose backend was ended may still look open while asyncpg reads the
        server's goodbye; a statement sent then fails with a client error. Either way the
        connection is done with: terminated here, the send loop reconnects."""
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        if sqlstate[:2] in REFUSED_STATEMENT or not self._open():
            return
        if isinstance(exc, TimeoutError):
            self.unresponsive += 1
            log.warning("event_bridge_unresponsive", instance=self.instance)
        self._conn.terminate()

    def _queue(self, topic: str, event: dict[str, Any]) -> None:
        key = self.hub.keys.get(topic)
        if key is None:
            self._outbox.append((topic, event))  # a full deque drops its oldest
            return
        if topic not in self._latest:
            self._latest[topic] = LatestQueue(key)
        self._latest[topic].put_nowait(event)

    def _pending(self) -> bool:
        return bool(self._outbox) or any(not q.empty() for q in self._latest.values())

    def _drain(self) -> list[tuple[str, dict[str, Any]]]:
        items = list(self._outbox)
        self._outbox.clear()
        for topic, queue in self._latest.items():
            while not queue.empty():
                items.append((topic, queue.get_nowait()))
        return items

    def wanted_elsewhere(self, topic: str) -> bool:
        """Whether another instance said lately that it subscribes to this on-demand topic."""
        now = self.clock()
        return self._wanted_until.get(topic, 0.0) > now or self._all_wanted_until > now

    def _heard_wants(self, instance: str, wants: object) -> None:
        now = self.clock()
        if isinstance(wants, list):
            self._wants_of[instance] = (frozenset(map(str, wants)), now + WANTS_TTL_S)
        else:  # "*": too many to list
            self._wants_of[instance] = (None, now + WANTS_TTL_S)
        self._wanted_until, self._all_wanted_until = {}, 0.0
        for other, (topics, until) in list(self._wants_of.items()):
            if until <= now or topics == frozenset():
                del self._wants_of[other]
            elif topics is None:
                self._all_wanted_until = max(self._all_wanted_until, until)
            else:
                for topic in topics:
                    self._wanted_until[topic] = max(self._wanted_until.get(topic, 0.0), until)

    def _wants_message(self) -> str | None:
        """What this instance wants, when it is time to say it (changed, due, or asked)."""
        wants = self.hub.demanded()
        now = self.clock()
        due = bool(wants) and now - self._said_at >= WANTS_EVERY_S
        if wants == self._said and not due and not self._ask:
            return None
        listed = json.dumps(sorted(wants))
        if len(listed) > MAX_PAYLOAD - 200:
            listed = '"*"'
        ask = ', "ask": true' if self._ask else ""
        self._said, self._said_at, self._ask = wants, now, False
        return f'{self._head}"wants": {listed}{ask}, "events": []}}'

    def _received(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(self._head):
            return  # our own, echoed
        try:
            message = json.loads(payload)
        except ValueError:
            return
        sender = str(message.get("from"))
        if sender == self.instance:
            return
        if "wants" in message:
            self._heard_wants(sender, message["wants"])
        if message.get("ask"):
            self._said = None  # say ours at the next tick
        for topic, event in message.get("events", []):
            self.hub.deliver(topic, event)

    def _batches(self) -> list[str]:
        # Events are encoded a batch at a time (one encoder call, not one an event: 1,300
        # device changes a second on a gateway): as many as the last batch's size per
        # event says fill ~90 % of a NOTIFY, fewer while they do not fit. One event too
        # large alone goes alone, as before (PostgreSQL refuses it; the send loop logs it).
        head = f'{self._head}"events": '
        room = MAX_PAYLOAD - len(head) - 1
        items = self._drain()
        batches: list[str] = []
        start = 0
        while start < len(items):
            count = self._per_batch
            while True:
                chunk = items[start : start + count]
                body = _encode(chunk)
                if len(body) <= room or len(chunk) == 1:
                    break
                count = max(1, min(len(chunk) - 1, int(len(chunk) * room * 0.95 / len(body))))
            batches.append(f"{head}{body}}}")
            start += len(chunk)
            self._per_batch = max(1, int(room * 0.9 * len(chunk) / len(body)))
        return batches

    async def _send_loop(self) -> None:
        while True:
            try:
                await self._step()
            except Exception:
                # Whatever went wrong, the loop goes on: a dead send loop would silently cut
                # this process off from the others.
                log.exception("event_bridge_failed", instance=self.instance)
                if self._open():
                    self._conn.terminate()
                await asyncio.sleep(self.tick)

    async def _step(self) -> None:
        """One tick: reconnect if needed, then send what is pending or check the line."""
        if not self._open():
            await self._reconnect()
        await asyncio.sleep(self.tick)
        if not self._open():
            return
        wants = self._wants_message()
        if wants is not None:
            self._unsent.insert(0, wants)
        if not (self._unsent or self._pending()):
            await self._check()
            return
        payloads, self._unsent = self._unsent + self._batches(), []
        for n, payload in enumerate(payloads):
            try:
                await self._conn.execute(
                    "SELECT pg_notify($1, $2)", CHANNEL, payload, timeout=self.check_timeout
                )
            except Exception as exc:
                log.warning("event_forward_failed", error=str(exc))
                self._give_up(exc)
                if not self._open():  # lost: this batch and the rest go after reconnecting
                    self._keep_unsent(payloads[n:])
                    break
            else:
                self._answered = time.monotonic()

    def _keep_unsent(self, payloads: list[str]) -> None:
        if len(payloads) > MAX_UNSENT:
            log.warning("event_batches_dropped", count=len(payloads) - MAX_UNSENT)
            del payloads[:-MAX_UNSENT]
        self._unsent = payloads

    async def close(self) -> None:
        """Stop forwarding and disconnect."""
        self.hub.forward = None
        self.hub.wanted_elsewhere = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close(timeout=self.check_timeout)
            except self._errors:
                conn.terminate()  # a connection that does not answer is not waited for
