"""docs/schemas/ holds exactly the schemas the code's models generate, and they are valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from telepresence.sessions.call.wire_schemas import SCHEMA_FILES, socket_schemas

DOCS = Path(__file__).parents[4] / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_the_published_schema_is_the_generated_one(name):
    published = json.loads((DOCS / name).read_text())
    assert published == socket_schemas()[name], (
        "regenerate: python -m telepresence.sessions.call.wire_schemas docs/schemas"
    )
    jsonschema.Draft202012Validator.check_schema(published)


def test_the_schemas_tell_good_messages_from_bad():
    schemas = socket_schemas()
    server = jsonschema.Draft202012Validator(schemas["session-server-to-client.json"])
    assert server.is_valid({"type": "peer_joined", "participant": "robot"})
    assert not server.is_valid({"type": "peer_joined", "participant": "teacher"})
    assert not server.is_valid({"type": "ack", "id": "1", "extra": True})
    device = jsonschema.Draft202012Validator(schemas["device-to-server.json"])
    assert device.is_valid({"type": "session_rejoin", "session_id": "s1"})
    assert not device.is_valid({"type": "heartbeat", "seq": -1})
