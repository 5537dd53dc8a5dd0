"""Tokens, roles and the authorisation policy."""

from __future__ import annotations

import pytest

from telepresence.platform.errors import Forbidden, Unauthorized
from telepresence.platform.http.routing import require
from telepresence.platform.security.identity import (
    PUBLIC,
    STAFF,
    Principal,
    Role,
    TokenKind,
    csrf_token,
    hash_token,
    new_token,
    token_kind,
)


def test_tokens_name_their_kind_and_are_unique():
    tokens = {new_token(TokenKind.API) for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert token_kind(token) is TokenKind.API
    assert token_kind(new_token(TokenKind.DEVICE)) is TokenKind.DEVICE


@pytest.mark.parametrize("token", ["", "cba", "cba_short", "xyz_" + "a" * 40, "cba_" + "a" * 300])
def test_malformed_tokens_have_no_kind(token):
    assert token_kind(token) is None


def test_hashes_are_stable_and_do_not_contain_the_token():
    token = new_token(TokenKind.SESSION)
    assert hash_token(token) == hash_token(token)
    assert token not in hash_token(token)
    assert len(hash_token(token)) == 64


def test_csrf_tokens_are_bound_to_session_and_secret():
    assert csrf_token("s1", "session-a") == csrf_token("s1", "session-a")
    assert csrf_token("s1", "session-a") != csrf_token("s1", "session-b")
    assert csrf_token("s1", "session-a") != csrf_token("s2", "session-a")


def who(role: Role) -> Principal:
    return Principal(role=role, subject_id="id", display_name="Someone")


@pytest.mark.parametrize("role", list(Role))
def test_staff_routes_admit_exactly_the_staff_roles(role):
    if role in {Role.ADMIN, Role.COORDINATOR, Role.HOSPITAL_STAFF}:
        assert require(who(role), STAFF) == who(role)
    else:
        with pytest.raises(Forbidden):
            require(who(role), STAFF)


def test_anonymous_callers_are_unauthorised_except_on_public_routes():
    with pytest.raises(Unauthorized):
        require(None, frozenset({Role.ADMIN}))
    assert require(None, PUBLIC) is None
    assert require(who(Role.PUPIL), PUBLIC) == who(Role.PUPIL)
