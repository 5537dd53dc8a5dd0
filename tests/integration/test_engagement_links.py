"""Every figure on the engagement pages links to the records behind it, and every link opens:
on the demo's four past weeks (``classbridge demo``), on each database, as the demo's
coordinator."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepresence.demo import seed_demo
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import Pupil

COORDINATOR = {"email": "coordinator@riverside.example", "password": "demo-coord-pass"}


async def _demo(client: TestClient) -> dict[str, str]:  # type: ignore[type-arg]
    await seed_demo(client.app[DATABASE], datetime.now(UTC))
    resp = await client.post("/api/auth/login", json=COORDINATOR)
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


def _links(page: str) -> list[str]:
    """Every same-site link of a page (HTML and SVG ``<a href>``), without its fragment."""
    hrefs = (html_lib.unescape(h) for h in re.findall(r'<a [^>]*href="([^"]+)"', page))
    return sorted({h.split("#")[0] for h in hrefs if h.startswith("/")})


async def test_every_link_on_the_engagement_pages_opens(client):
    coord = await _demo(client)
    dashboard = await client.get("/engagement", headers=coord)
    assert dashboard.status == 200
    page = await dashboard.text()
    links = _links(page)
    # The figures link to their records: robots to their page, each school's moves to the
    # moves behind its punctuality, each week to that week, drifting pupils and alerts.
    svg_links = re.findall(r'<svg[^>]*role="group".*?</svg>', page, re.S)
    assert len(svg_links) == 3  # weeks, robot moves per school, robot utilisation
    in_charts = _links("".join(svg_links))
    assert any(re.fullmatch(r"/devices/\w+", h) for h in in_charts)
    assert any(re.fullmatch(r"/engagement/schools/\w+/moves\?period=4w&.*", h) for h in in_charts)
    assert any(h.startswith("/engagement?period=custom&start=") for h in in_charts)
    assert any(re.fullmatch(r"/engagement/alerts/\w+", h) for h in links)
    assert any(re.fullmatch(r"/engagement/pupils/\w+\?period=4w&.*", h) for h in links)
    assert any("&kind=failed" in h for h in links)  # the schools table's "Failed" count
    # Follow every link, then every link of the engagement pages they lead to (a pupil's
    # page, an alert, a school's moves).
    seen: dict[str, int] = {}
    further: set[str] = set()
    for todo in (links, further):
        for url in sorted(set(todo) - set(seen)):
            resp = await client.get(url, headers=coord)  # "/" sends on to the start page
            seen[url] = resp.status
            if todo is links and url.startswith("/engagement/") and resp.status == 200:
                further.update(
                    _links(await resp.text()) if resp.content_type == "text/html" else []
                )
    assert {url: status for url, status in seen.items() if status != 200} == {}
    assert any("/moves?" in url for url in seen)
    assert any(url.startswith("/schools/") and "/rota?date=" in url for url in seen)
    assert len(seen) > 40, sorted(seen)


def _tab_counts(page: str) -> dict[str, int]:
    tabs = re.search(r'<nav class="tabs"[^>]*>(.*?)</nav>', page, re.S)
    assert tabs is not None
    found = re.findall(r">([A-Za-z ]+) \((\d+)\)</a>", tabs.group(1))
    return {words: int(n) for words, n in found}


async def test_a_schools_moves_are_the_ones_its_punctuality_counts(client):
    coord = await _demo(client)
    summary = await (await client.get("/api/engagement/summary", headers=coord)).json()
    assert summary["moves"], "the demo's history has moves"
    for school_id, counts in summary["moves"].items():
        url = f"/engagement/schools/{school_id}/moves?period=4w"
        page = await (await client.get(url, headers=coord)).text()
        assert _tab_counts(page) == {
            "All": sum(counts.values()),
            "On time": counts["on_time"],
            "Late": counts["late"],
            "Not done": counts["failed"],
            "Still open": counts["open"],
        }
        failed = await (await client.get(url + "&kind=failed", headers=coord)).text()
        assert failed.count('<span class="move-kind failed">') == counts["failed"]
        assert '<span class="move-kind on_time">' not in failed
    leo_failed = [c["failed"] for c in summary["moves"].values() if c["failed"]]
    assert leo_failed == [2]  # Leo's robot, twice not moved (Room locked, no key)
    school_id = next(s for s, c in summary["moves"].items() if c["failed"])
    url = f"/engagement/schools/{school_id}/moves?period=4w&kind=failed"
    text = await (await client.get(url, headers=coord)).text()
    assert text.count("Room locked, no key (demo)") == 2
    assert "Leo M.</a>" in text
    base = f"/engagement/schools/{school_id}/moves"
    for bad in ("?kind=lost", "?period=custom&start=2020-01-01&end=2026-01-01"):
        refused = await client.get(base + bad, headers=coord)
        assert refused.status == 422, bad
        assert "Those moves cannot be shown" in await refused.text()
    assert (await client.get("/engagement/schools/nope/moves", headers=coord)).status == 404


async def test_with_one_pupil_chosen_the_moves_are_that_pupils(client):
    coord = await _demo(client)
    async with client.app[DATABASE].sessions() as db:
        leo = await db.scalar(select(Pupil).where(Pupil.pupil_code == "LEOM59"))
    assert leo is not None
    mine = await client.get(f"/api/engagement/summary?pupil_id={leo.id}", headers=coord)
    moves = (await mine.json())["moves"]
    everyone = (await (await client.get("/api/engagement/summary", headers=coord)).json())["moves"]
    [(school_id, counts)] = moves.items()  # Leo's school only, and fewer than all its moves
    assert counts["failed"] == 2
    assert sum(counts.values()) < sum(everyone[school_id].values())
    page = await (await client.get(f"/engagement?pupil={leo.id}", headers=coord)).text()
    link = f"/engagement/schools/{school_id}/moves?period=4w"
    assert any(h.startswith(link) and h.endswith(f"&pupil={leo.id}") for h in _links(page))
    listed = await client.get(f"{link}&pupil={leo.id}", headers=coord)
    text = await listed.text()
    assert "Robot moves: Oakfield Academy, Leo Murphy's lessons" in text
    assert _tab_counts(text)["All"] == sum(counts.values())
    assert "Sam K." not in text
    assert f'<input type="hidden" name="pupil" value="{leo.id}">' in text
    # A key worker's punctuality counts their pupils' moves, and so does the moves page (the
    # demo's teacher is every demo pupil's key worker: the same moves as the coordinator's).
    staff = await client.post(
        "/api/auth/login",
        json={"email": "teacher@riverside.example", "password": "demo-staff-pass"},
    )
    teacher = {"Authorization": f"Bearer {(await staff.json())['token']}"}
    theirs = await (await client.get("/api/engagement/summary", headers=teacher)).json()
    assert theirs["pupils"], "the demo's teacher is a key worker"
    for school_id, counts in theirs["moves"].items():
        url = f"/engagement/schools/{school_id}/moves?period=4w"
        page = await (await client.get(url, headers=teacher)).text()
        assert _tab_counts(page)["All"] == sum(counts.values())
