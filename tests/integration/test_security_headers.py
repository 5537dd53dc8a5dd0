"""What every answer tells a stranger: no software versions; nothing with pupils' data cached."""

from __future__ import annotations

from factories import OPERATOR, PASSWORD


async def test_the_server_header_names_no_versions(client, org):
    for path in ("/healthz", "/login", "/api/openapi.json", "/nowhere"):
        server = (await client.get(path)).headers.get("Server", "")
        assert "Python" not in server, path
        assert "aiohttp" not in server, path


async def test_health_tells_a_stranger_the_status_only(client, org, login):
    anonymous = await client.get("/healthz")
    assert anonymous.status == 200
    assert await anonymous.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert await ready.json() == {"status": "ready"}
    for headers in (OPERATOR, await login("admin")):
        details = await (await client.get("/healthz", headers=headers)).json()
        assert {"version", "database", "scheduler", "smtp"} <= details.keys()
        assert "leader" in details["scheduler"]
        assert "leader_election" in await (await client.get("/readyz", headers=headers)).json()
    for role in ("coordinator", "assistant"):
        colleague = await (await client.get("/healthz", headers=await login(role))).json()
        assert colleague == {"status": "ok"}, role
    wrong = {"Authorization": "Bearer not-the-token"}
    assert await (await client.get("/healthz", headers=wrong)).json() == {"status": "ok"}


async def test_api_answers_and_pages_are_not_stored(client, org, login):
    admin = await login("admin")
    for path in ("/api/pupils", f"/api/pupils/{org.pupil.id}", "/api/me", "/api/nowhere"):
        resp = await client.get(path, headers=admin)
        assert resp.headers.get("Cache-Control") == "no-store", path
    signed = await client.post(
        "/login", data={"email": org.email("admin"), "password": PASSWORD}, allow_redirects=False
    )
    assert signed.status == 303
    for path in ("/pupils", f"/pupils/{org.pupil.id}", "/audit"):
        resp = await client.get(path)
        assert resp.status == 200
        assert resp.headers.get("Cache-Control") == "no-store", path


async def test_static_files_may_be_cached(client):
    resp = await client.get("/static/app.css")
    assert resp.status == 200
    assert resp.headers.get("Cache-Control") != "no-store"
