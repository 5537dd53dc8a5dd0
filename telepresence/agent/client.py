"""The agent's connection to the service: pairing, the device socket, reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import structlog

from telepresence.agent.backoff import full_jitter
from telepresence.agent.hardware import Hardware
from telepresence.agent.media import Media, SyntheticMedia
from telepresence.agent.timings import LessonTimer, TimedHardware

__all__ = ["AgentStopped", "Credential", "DeviceAgent", "pairing_code_from", "save_credential"]

log = structlog.get_logger("classbridge.agent")
FATAL_CLOSE_CODES = {
    4401: "credential revoked or unknown",
    4403: "device retired",
    4426: "no protocol version in common",
}
SOFTWARE_VERSION = "classbridge-agent/0.1.0"
# While a lesson is live the device socket (where invitations and fresh tokens come)
# is retried at most this far apart (docs/protocol.md, "Reconnecting").
LESSON_BACKOFF_CAP = 2.0


class AgentStopped(Exception):
    """The service will not take this device any more (revoked, retired); pair again."""


@dataclass(frozen=True)
class Credential:
    """What pairing gives a device."""

    server: str
    device_id: str
    name: str
    credential: str


def pairing_code_from(text: str) -> tuple[str, str | None]:
    """The code, and the server if ``text`` is the URL from a pairing QR code."""
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        code = parse_qs(parts.query).get("code", [""])[0]
        return code, f"{parts.scheme}://{parts.netloc}"
    return text, None


def save_credential(path: Path, credential: Credential) -> None:
    """Write the credential readable by the owner only (0600), replacing any old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credential.__dict__, handle)
    tmp.chmod(0o600)
    tmp.replace(path)


def load_credential(path: Path) -> Credential:
    """Read a saved credential; ``AgentStopped`` if there is none."""
    try:
        data = json.loads(path.read_text())
        return Credential(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise AgentStopped(f"No usable credential in {path}: pair the device first.") from exc


class DeviceAgent:
    """Keeps one device connected: hello, heartbeats, commands, and reconnection."""

    def __init__(
        self,
        credential: Credential,
        hardware: Hardware,
        *,
        model: str,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        media: Media | None = None,
    ) -> None:
        self.credential = credential
        self.timer = LessonTimer(self._report_timing)
        self.hardware: Hardware = TimedHardware(hardware, self.timer)
        self.model = model
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.connected = asyncio.Event()
        self.heartbeat_seconds = 15.0
        self.connections = 0
        self.media: Media = media or SyntheticMedia()
        self.lesson: Any = None
        self._lesson_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.relays: dict[str, tuple[Any, asyncio.Task[None]]] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    @staticmethod
    async def pair(server: str, code: str, serial: str | None = None) -> Credential:
        """Redeem a pairing code; raises ``AgentStopped`` with the service's reason."""
        body: dict[str, Any] = {"code": code}
        if serial:
            body["serial"] = serial
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{server.rstrip('/')}/api/devices/pair", json=body) as resp,
        ):
            data = await resp.json(content_type=None)
            if resp.status != 201:
                raise AgentStopped(f"Pairing refused: {data.get('detail', resp.reason)}")
        return Credential(
            server=server.rstrip("/"),
            device_id=data["device_id"],
            name=data["name"],
            credential=data["credential"],
        )

    def _delay(self, attempt: int) -> float:
        cap = self.backoff_cap
        if self.lesson_session_id() is not None:
            cap = min(cap, LESSON_BACKOFF_CAP)
        return full_jitter(attempt, self.backoff_base, cap)

    def lesson_session_id(self) -> str | None:
        """The session this robot is in now (said in ``hello``), or None."""
        lesson = self.lesson
        if lesson is None or lesson.ended.is_set():
            return None
        return str(lesson.session_id)

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop`` is set; raises ``AgentStopped`` when refused."""
        try:
            await self._stay_connected(stop)
        finally:
            uploads = [self._stop_relay(session_id) for session_id in list(self.relays)]
            await asyncio.gather(*(t for t in uploads if t is not None), return_exceptions=True)
            await self.leave_lesson(None)

    async def _stay_connected(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                welcomed = await self._connect_once(stop)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("agent_connection_failed", error=str(exc) or type(exc).__name__)
                welcomed = False
            attempt = 0 if welcomed else attempt + 1
            if stop.is_set():
                break
            delay = self._delay(attempt)
            log.info("agent_reconnecting", in_seconds=round(delay, 2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def _connect_once(self, stop: asyncio.Event) -> bool:
        url = self.credential.server.replace("http", "ws", 1) + "/ws/device"
        headers = {"Authorization": f"Bearer {self.credential.credential}"}
        async with aiohttp.ClientSession() as http:
            try:
                ws = await http.ws_connect(url, headers=headers, heartbeat=30.0)
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in {401, 403}:
                    raise AgentStopped("The service refused this device's credential.") from exc
                raise
            async with ws:
                return await self._session(ws, stop)

    async def _session(self, ws: aiohttp.ClientWebSocketResponse, stop: asyncio.Event) -> bool:
        await ws.send_json(
            {
                "type": "hello",
                "protocol": [1],
                "model": self.model,
                "software_version": SOFTWARE_VERSION,
                "capabilities": [
                    "camera",
                    "microphone",
                    "speaker",
                    "lights",
                    "head_pan_tilt",
                    "battery",
                ],
                # The server invites a robot that is not in its lesson (after a restart).
                "session_id": self.lesson_session_id(),
            }
        )
        welcome = await ws.receive_json(timeout=10)
        if welcome.get("type") != "welcome":
            return False
        self.heartbeat_seconds = float(welcome["heartbeat_seconds"])
        self.connections += 1
        self._ws = ws
        self.connected.set()
        log.info("agent_connected", device=welcome["name"])
        beats = asyncio.create_task(self._heartbeats(ws))
        stopper = asyncio.create_task(self._close_on(stop, ws))
        try:
            await self._receive(ws)
        finally:
            self.connected.clear()
            self._ws = None
            for task in (beats, stopper):
                task.cancel()
            await asyncio.gather(beats, stopper, return_exceptions=True)
        if ws.close_code in FATAL_CLOSE_CODES:
            raise AgentStopped(f"Disconnected: {FATAL_CLOSE_CODES[ws.close_code]}.")
        return True

    @staticmethod
    async def _close_on(stop: asyncio.Event, ws: aiohttp.ClientWebSocketResponse) -> None:
        await stop.wait()
        await ws.close()

    async def _heartbeats(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        seq = 0
        while not ws.closed:
            reading = self.hardware.read()
            await ws.send_json({"type": "heartbeat", "seq": seq, **reading.__dict__})
            seq += 1
            await asyncio.sleep(self.heartbeat_seconds)

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if data.get("type") == "command":
                await self._command(ws, data)
            elif data.get("type") == "session_invite":
                if self.lesson is None or self.lesson.session_id != data.get("session_id"):
                    self.timer.invited()
                await self._join_lesson(data)
            elif data.get("type") == "session_end":
                self._stop_relay(data.get("session_id"))
                await self.leave_lesson(data.get("session_id"))
            elif data.get("type") == "relay_invite":
                self._start_relay(data)
            elif data.get("type") == "relay_stop":
                self._stop_relay(data.get("session_id"))
            elif data.get("type") == "error":
                log.warning(
                    "agent_message_refused", code=data.get("code"), detail=data.get("detail")
                )

    def _report_timing(self, measure: str, seconds: float) -> None:
        """Tell the service how long the lesson's media took (docs/protocol.md); best effort."""

        async def post() -> None:
            url = f"{self.credential.server}/api/client-timings"
            headers = {"Authorization": f"Bearer {self.credential.credential}"}
            body = {"measure": measure, "seconds": round(min(seconds, 600.0), 3)}
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(10)),
                ):
                    pass
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("timing_not_reported", error=str(exc) or type(exc).__name__)

        task = asyncio.create_task(post())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _spawn_readiness(self, ws: aiohttp.ClientWebSocketResponse, data: dict[str, Any]) -> None:
        """Test this room's connection in the background; ack with the verdict when done."""

        async def run() -> None:
            from telepresence.agent.readiness import measure_room

            video = next((t for t in self.media.tracks() if t.kind == "video"), None)
            try:
                if video is None:
                    raise RuntimeError("no camera to test with")
                outcome = await measure_room(
                    self.credential.server,
                    self.credential.credential,
                    video,
                    room=str(data.get("args", {}).get("room", "")),
                )
                detail, ok = f"{outcome.get('verdict')}: {json.dumps(outcome)}"[:500], True
            except (RuntimeError, aiohttp.ClientError, OSError) as exc:
                detail, ok = f"readiness test failed: {exc}"[:500], False
            if not ws.closed:
                await ws.send_json(
                    {"type": "ack", "command_id": data["command_id"], "ok": ok, "detail": detail}
                )

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _start_relay(self, invite: dict[str, Any]) -> None:
        """Also send this lesson's media to the server's relay (staff are watching)."""
        from telepresence.agent.relay import RelayUpload

        self._stop_relay(invite.get("session_id"))
        upload = RelayUpload(self.credential.server, self.credential.credential, invite, self.media)
        task = asyncio.create_task(upload.run())
        self.relays[upload.session_id] = (upload, task)

        def done(_finished: asyncio.Task[None]) -> None:
            if self.relays.get(upload.session_id, (None,))[0] is upload:
                del self.relays[upload.session_id]

        task.add_done_callback(done)

    def _stop_relay(self, session_id: Any) -> asyncio.Task[None] | None:
        entry = self.relays.pop(str(session_id), None)
        if entry is None:
            return None
        entry[0].stop()
        return entry[1]

    async def _join_lesson(self, invite: dict[str, Any]) -> None:
        """Join the session the server invited this robot to (replacing any other)."""
        from telepresence.agent.lesson import RobotLesson

        await self.leave_lesson(None)
        self.lesson = RobotLesson(
            self.credential.server,
            invite["session_id"],
            invite["token"],
            self.hardware,
            self.media,
            on_token_refused=self.request_token,
        )
        self._lesson_task = asyncio.create_task(self.lesson.run())
        log.info("agent_lesson_joined", session=invite["session_id"], subject=invite.get("subject"))

    async def request_token(self, session_id: str) -> None:
        """Ask for a fresh token for a session whose token was refused (4401 there).

        The answer is a ``session_invite`` (joined as any other) or a ``session_end``.
        Without a device socket now, the ``hello`` of the next one does the same.
        """
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.send_json({"type": "session_rejoin", "session_id": session_id})

    async def leave_lesson(self, session_id: str | None) -> None:
        """Leave the current lesson (if ``session_id`` is None or names it)."""
        lesson, task = self.lesson, self._lesson_task
        if lesson is None or (session_id is not None and lesson.session_id != session_id):
            return
        self.lesson, self._lesson_task = None, None
        await lesson.stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _command(self, ws: aiohttp.ClientWebSocketResponse, data: dict[str, Any]) -> None:
        name = data.get("command")
        actions = {"identify": self.hardware.identify, "restart": self.hardware.restart}
        if name == "readiness_test":
            self._spawn_readiness(ws, data)
            return
        if name in actions:
            detail, ok = await actions[name](), True
        elif name == "update_settings":
            detail, ok = await self.hardware.apply_settings(data.get("args", {})), True
        else:
            detail, ok = f"unknown command {name!r}", False
        await ws.send_json(
            {"type": "ack", "command_id": data["command_id"], "ok": ok, "detail": detail}
        )
