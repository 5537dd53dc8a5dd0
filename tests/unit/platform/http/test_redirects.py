"""After sign-in, ``next`` is only ever a path on this site, however it is disguised."""

from __future__ import annotations

import pytest

from telepresence.platform.http.rendering import safe_next
from telepresence.platform.security.identity import Principal, Role

ADMIN = Principal(Role.ADMIN, "u1", "Ada")

HOSTILE = [
    "//evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r/evil.example/",
    "\t//evil.example/",
    " //evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "\\/evil.example/",
    "/\t\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "///evil.example",
    "evil.example",
    "",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HOSTILE)
def test_no_disguise_leaves_the_site(target: str) -> None:
    assert safe_next(target, ADMIN) == "/devices"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/pupils", "/pupils"),
        ("/pupils/abc?tab=plan#top", "/pupils/abc?tab=plan#top"),
        ("/rota?date=2026-12-07", "/rota?date=2026-12-07"),
    ],
)
def test_a_path_on_this_site_is_kept(target: str, expected: str) -> None:
    assert safe_next(target, ADMIN) == expected
