"""coturn's configuration is sized for the capacity docs/capacity.md documents.

The arithmetic of docs/capacity.md ("TURN: coturn") is done again here from
the documented case (500 relayed lessons, 50 relayed watchers), the TURN URLs
the deployment issues and the robot's top bitrate, and checked against
deploy/turnserver.conf, compose.yaml and deploy/README.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CAPACITY = (ROOT / "docs" / "capacity.md").read_text()

LESSONS, WATCHERS = 500, 50  # the documented national case
ENDS, RELAY_LEGS = 2, 2  # a lesson's two ends; a watcher and the relay's leg to the robot
ROBOT_TOP_BPS = 1_500_000 + 64_000  # VP8 at aiortc's maximum + Opus, bits a second
LINK_BPS = 1_000_000_000  # one coturn server's link (docs/capacity.md)


def _conf() -> dict[str, str]:
    options: dict[str, str] = {}
    for raw in (DEPLOY / "turnserver.conf").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            options.setdefault(key, value)
    return options


def _turn_urls() -> list[str]:
    """The TURN URLs every lesson's ends get in the compose deployment."""
    text = (DEPLOY / "compose.yaml").read_text()
    raw = re.search(r"CLASSBRIDGE_TURN_URLS: '(.*)'", text)
    assert raw is not None
    return list(json.loads(re.sub(r"\$\{[^}]*\}", "turn.example.org", raw.group(1))))


def test_the_deployment_issues_three_turn_urls_with_tls_on_443() -> None:
    urls = _turn_urls()
    assert len(urls) == 3
    assert any(u.startswith("turns:") and ":443?transport=tcp" in u for u in urls)


def test_allocations_fit_the_quota_with_one_of_two_servers_down() -> None:
    conf = _conf()
    clients = LESSONS * ENDS + WATCHERS * RELAY_LEGS
    allocations = clients * len(_turn_urls())  # a browser keeps a relay candidate per URL
    assert allocations == 3_300
    quota = int(conf["total-quota"])
    assert quota >= allocations * 1.2, "no room for a rejoin's call overlapping the old one"
    per_lesson = (ENDS + RELAY_LEGS) * len(_turn_urls())
    assert int(conf["user-quota"]) >= per_lesson


def test_every_allocation_can_have_a_relay_port() -> None:
    conf = _conf()
    ports = int(conf["max-port"]) - int(conf["min-port"]) + 1
    assert int(conf["min-port"]) >= 49152  # the IANA dynamic range
    assert ports >= int(conf["total-quota"])


def test_max_bps_passes_the_robots_top_bitrate_and_caps_a_runaway_client() -> None:
    per_allocation = int(_conf()["max-bps"]) * 8  # coturn counts bytes a second
    assert per_allocation >= ROBOT_TOP_BPS * 1.2
    assert per_allocation <= LINK_BPS / 100  # no single client takes the server's link


def test_compose_and_the_guide_open_the_configured_range() -> None:
    conf = _conf()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert compose["services"]["coturn"]["network_mode"] == "host"
    guide = (DEPLOY / "README.md").read_text()
    dash = "\N{EN DASH}"
    assert f"{conf['min-port']}{dash}{conf['max-port']}/udp" in guide
    assert "LimitNOFILE=65536" in guide
    nofile = compose["services"]["coturn"]["ulimits"]["nofile"]
    assert nofile["soft"] >= 2 * int(conf["total-quota"])


def test_the_capacity_document_states_the_configured_figures() -> None:
    conf = _conf()
    for figure in (
        f"**{int(conf['total-quota']):,}**",
        f"**{conf['user-quota']}**",
        f"**{int(conf['max-bps']):,}**",
        f"`min-port={conf['min-port']}`, `max-port={conf['max-port']}`",
        "3,300",
    ):
        assert figure in CAPACITY, figure
