"""The API validates what its OpenAPI document says, no more loosely and no more strictly.

Findings of schemathesis, each pinned here so it fails without a server run:
``?date=0`` read as 1970-01-01, ``"floor": false`` read as 0, ``Allow``
advertising another route's methods, components of two models with one class
name overwriting each other, local times declared as RFC 3339 times.
"""

from __future__ import annotations

import json
import re

from telepresence.platform.http.openapi import TIME_PATTERN


async def test_a_date_in_the_query_is_a_date_not_a_number_of_seconds(client, org, login):
    admin = await login("admin")
    for value in ("0", "1700000000", "-1"):
        resp = await client.get(f"/api/schools/{org.school_id}/rota?date={value}", headers=admin)
        assert resp.status == 422, (value, await resp.text())
        assert (await resp.json())["errors"][0]["field"] == "date"
    ok = await client.get(f"/api/schools/{org.school_id}/rota?date=2026-09-07", headers=admin)
    assert ok.status == 200


async def test_a_boolean_is_not_an_integer_and_a_float_is_not_either(client, org, login):
    admin = await login("admin")
    rooms = f"/api/schools/{org.school_id}/rooms"
    for floor in (False, True, 1.0, "1"):
        resp = await client.post(rooms, headers=admin, json={"name": "Lab 9", "floor": floor})
        assert resp.status == 422, (floor, await resp.text())
    made = await client.post(rooms, headers=admin, json={"name": "Lab 9", "floor": 1})
    assert made.status == 201, await made.text()


async def test_allow_names_only_the_methods_of_that_path(client, login):
    pupil = {"Content-Type": "application/json"}
    pair = await client.request("OPTIONS", "/api/devices/pair", headers=pupil)
    assert pair.status == 405
    assert pair.headers["Allow"] == "POST"  # not /api/devices/{device_id}'s GET, PATCH
    users = await client.request("DELETE", "/api/users", headers=await login("admin"))
    assert users.status == 405
    assert users.headers["Allow"] == "GET,POST"  # declared in two places, one path


async def test_the_document_keeps_each_models_own_schema(client):
    doc = await (await client.get("/api/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    devices = doc["paths"]["/api/devices"]["get"]["responses"]["200"]["content"]
    ref = devices["application/json"]["schema"]["items"]["$ref"].rsplit("/", 1)[1]
    assert "serial" in schemas[ref]["properties"]  # the registry's device, not engagement's
    text = json.dumps(doc)
    assert set(re.findall(r'"#/components/schemas/([^"]+)"', text)) <= schemas.keys()
    assert '"format": "time"' not in text
    assert json.dumps(TIME_PATTERN) in text


async def test_health_and_readiness_are_documented_with_their_bodies(client):
    doc = await (await client.get("/api/openapi.json")).json()
    for path in ("/healthz", "/readyz"):
        assert "200" in doc["paths"][path]["get"]["responses"], path


async def test_what_the_document_allows_for_users_and_schools_is_what_is_accepted(client, login):
    admin = await login("admin")
    doc = await (await client.get("/api/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    roles = schemas["UserIn"]["properties"]["role"]["enum"]
    assert "device" not in roles
    assert "pupil" not in roles
    device = {"email": "robot@test.example", "name": "Robot", "role": "device"}
    assert (await client.post("/api/users", headers=admin, json=device)).status == 422
    zones = schemas["SchoolIn"]["properties"]["time_zone"]["enum"]
    for zone in ("Pacific/Chatham", "Etc/GMT+5", "America/Argentina/ComodRivadavia"):
        assert zone in zones
        made = await client.post(
            "/api/schools", headers=admin, json={"name": zone, "time_zone": zone}
        )
        assert made.status == 201, (zone, await made.text())
    assert "Mars/Olympus_Mons" not in zones
    bad = {"name": "Far", "time_zone": "Mars/Olympus_Mons"}
    assert (await client.post("/api/schools", headers=admin, json=bad)).status == 422


async def test_an_import_problem_matches_the_problem_schema(client, org, login):
    """The finding: ``"field": null`` in an import's problem, where the document said string."""
    import jsonschema

    doc = await (await client.get("/api/openapi.json")).json()
    resp = await client.post(
        f"/api/pupils/{org.pupil.id}/timetable",
        headers=await login("hospital_staff") | {"Content-Type": "text/csv"},
        data=b"",
    )
    assert resp.status == 422
    problem = await resp.json()
    assert problem["errors"][0]["field"] is None
    jsonschema.validate(problem, doc["components"]["schemas"]["Problem"])
