"""Security at sign-in: where it sends you, and how fast a guesser is stopped."""

from __future__ import annotations

import re

from factories import PASSWORD


async def test_next_with_control_characters_never_leaves_the_site(client, org):
    """The finding: ``/login?next=/%09/evil.example/`` went to //evil.example/ after sign-in."""
    for disguise in (
        "/%09/evil.example/",
        "/%0a/evil.example/",
        "/%0d/evil.example/",
        "/%5cevil.example/",
    ):
        page = await (await client.get(f"/login?next={disguise}")).text()
        hidden = re.search(r'name="next" value="([^"]*)"', page)
        assert hidden
        resp = await client.post(
            "/login",
            data={"email": org.email("admin"), "password": PASSWORD, "next": hidden.group(1)},
            allow_redirects=False,
        )
        assert resp.status == 303
        assert resp.headers["Location"] == "/devices", disguise
        client.session.cookie_jar.clear()
