"""The sweep for silent devices looks at the silent links only: they come first."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import AsyncMock, MagicMock

from device_registry.links import Link, LinkHub
from telepresence.platform.clock import FixedClock
from telepresence.platform.events.events import EventHub

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _link(device_id: str) -> Link:
    ws = MagicMock(closed=False, ping=AsyncMock(), close=AsyncMock())
    return Link(ws=ws, device_id=device_id, provider_id="p1", last_seen=NOW)


def _pings(*links: Link) -> tuple[int, ...]:
    return tuple(link.ws.ping.await_count for link in links)  # type: ignore[attr-defined]


async def test_links_are_kept_in_the_order_they_were_last_heard_and_only_silent_ones_pinged():
    hub = LinkHub(MagicMock(), FixedClock(NOW), EventHub())
    a, b, c = _link("a"), _link("b"), _link("c")
    for link in (a, b, c):
        await hub.attach(link)
    a.heard, b.heard, c.heard = 100.0, 101.0, 102.0
    hub.hear(a)  # a speaks: last in the order, whatever its clock says
    a.heard = 110.0
    assert list(hub._links) == ["b", "c", "a"]
    await hub.sweep(now=102.0 + hub.keepalive)  # b and c silent for the keepalive, a not
    assert _pings(b, c, a) == (1, 1, 0)
    assert (b.pinged, c.pinged, a.pinged) == (102.0 + hub.keepalive, 102.0 + hub.keepalive, 0.0)
    hub.hear(c)  # c answers the ping (a pong is a frame): no longer pinged, last
    c.heard = 125.0
    assert list(hub._links) == ["b", "a", "c"]
    assert c.pinged == 0.0


async def test_a_replaced_link_heard_late_does_not_take_the_new_ones_place():
    hub = LinkHub(MagicMock(), FixedClock(NOW), EventHub())
    old, other, new = _link("a"), _link("b"), _link("a")
    await hub.attach(old)
    await hub.attach(other)
    await hub.attach(new)  # the device connected again: the old socket is closed
    hub.hear(old)  # its last frame, read while it closes
    assert list(hub._links.items()) == [("b", other), ("a", new)]
