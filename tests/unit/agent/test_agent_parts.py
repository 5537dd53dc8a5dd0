"""The device agent's parts that need no server: hardware model, credential file, backoff."""

from __future__ import annotations

import stat
from pathlib import Path

from telepresence.agent.client import (
    Credential,
    DeviceAgent,
    load_credential,
    pairing_code_from,
    save_credential,
)
from telepresence.agent.hardware import LinuxHardware, SyntheticHardware

CRED = Credential(
    server="http://127.0.0.1:8080", device_id="d1", name="Robbie", credential="cbd_secret"
)


def test_credential_file_is_private_and_round_trips(tmp_path: Path):
    path = tmp_path / "agent" / "credential"
    save_credential(path, CRED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credential(path) == CRED


def test_pairing_code_may_come_as_the_qr_url():
    assert pairing_code_from("ACDE-F234") == ("ACDE-F234", None)
    assert pairing_code_from("https://cb.example/pair?code=ACDE-F234") == (
        "ACDE-F234",
        "https://cb.example",
    )


def test_reconnect_delay_grows_with_full_jitter_up_to_the_cap():
    agent = DeviceAgent(CRED, SyntheticHardware(), model="test", backoff_base=0.5, backoff_cap=30)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (3, 4.0), (10, 30.0)]:
        delays = [agent._delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2


def test_synthetic_battery_drains_then_charges():
    hw = SyntheticHardware(battery=16.0, drain_per_min=60.0)
    hw._last -= 2  # two seconds ago: two percent gone
    reading = hw.read()
    assert reading.battery_pct == 14
    assert reading.charging is True
    hw._last -= 60
    assert hw.read().battery_pct is not None
    assert hw.battery > 14


def test_linux_hardware_reads_sysfs_battery_and_wifi(tmp_path: Path):
    battery = tmp_path / "power" / "BAT0"
    battery.mkdir(parents=True)
    (battery / "capacity").write_text("73\n")
    (battery / "status").write_text("Charging\n")
    wireless = tmp_path / "wireless"
    wireless.write_text(
        "Inter-| sta-|   Quality        |   Discarded packets\n"
        " face | tus | link level noise |  nwid  crypt   frag\n"
        " wlan0: 0000   54.  -56.  -256        0      0      0\n"
    )
    reading = LinuxHardware(sys_root=tmp_path / "power", wireless=wireless).read()
    assert (reading.battery_pct, reading.charging, reading.signal_dbm) == (73, True, -56)
    assert reading.network_type == "wifi"


async def test_an_offer_aiortc_cannot_use_leaves_the_lesson_running():
    from telepresence.agent.lesson import RobotLesson
    from telepresence.agent.media import SyntheticMedia

    lesson = RobotLesson(
        "http://127.0.0.1:9", "s1", "cbl_token", SyntheticHardware(), SyntheticMedia()
    )
    # Passes the server's checks (it looks like SDP) but has nothing aiortc can answer.
    await lesson._on_message(
        {"type": "offer", "sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "offer_id": "p1"}
    )
    await lesson._on_message({"type": "answer", "sdp": "v=0", "offer_id": "r9"})  # not ours
    assert lesson.answered == []
    assert not lesson.ended.is_set()
    await lesson.stop()
