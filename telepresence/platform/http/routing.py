"""Routes that declare who may call them and which pydantic schemas they speak.

Every route of the service is declared through ``Routes``: the declaration
is what authorises the caller, parses and validates the body and query, and
renders the response, and it is also what the OpenAPI document is generated
from, so the document cannot drift from the handlers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from telepresence.platform.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    RateLimited,
    Unauthorized,
    validation_errors,
)
from telepresence.platform.http.context import (
    ACCOUNT_LIMITER,
    CLOCK,
    DATABASE,
    LOGIN_LIMITER,
    NAV_BADGES,
    PAGE_BADGES,
    RESOLVERS,
    SETTINGS,
)
from telepresence.platform.security.auth import PrincipalCache
from telepresence.platform.security.identity import (
    Principal,
    Public,
    Role,
    TokenKind,
    csrf_token,
    hash_token,
    token_kind,
)
from telepresence.platform.security.ratelimit import RateLimiter

__all__ = [
    "ENDPOINTS",
    "PRINCIPAL",
    "PRINCIPALS",
    "SESSION_COOKIE",
    "Endpoint",
    "Routes",
    "Schema",
    "authenticate",
    "check_origin",
    "client_address",
    "counting_failures",
    "csrf_for",
    "presented_token",
    "require",
    "still_signed_in",
]

SESSION_COOKIE = "cb_session"
ENDPOINT_ATTR = "__classbridge_endpoint__"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Kind = Literal["api", "page", "socket"]
Roles = frozenset[Role] | Public


class Schema(BaseModel):
    """Base of request schemas: unknown fields are refused, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


@dataclass(frozen=True)
class Endpoint:
    """One declared route: who may call it and what it takes and returns."""

    method: str
    path: str
    roles: Roles
    kind: Kind
    summary: str
    name: str
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    errors: tuple[int, ...] = ()
    raw_body: tuple[str, ...] = ()
    raw_response: tuple[str, ...] = ()
    adapter: TypeAdapter[Any] | None = field(default=None, compare=False)

    @property
    def path_params(self) -> list[str]:
        """The ``{name}`` parameters of the path."""
        return re.findall(r"{(\w+)(?::[^}]*)?}", self.path)


ENDPOINTS = web.AppKey("endpoints", list[Endpoint])
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
PRINCIPALS = web.AppKey("principals", PrincipalCache)
CACHED_KINDS = frozenset({TokenKind.SESSION, TokenKind.API})  # people's sign-ins
VIA_COOKIE: web.RequestKey[bool] = web.RequestKey("via_cookie")
Handler = Callable[..., Awaitable[Any]]


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def presented_token(request: web.Request) -> str:
    """The bearer token, else the session cookie ('' when neither)."""
    return _bearer(request) or request.cookies.get(SESSION_COOKIE, "")


async def authenticate(request: web.Request) -> Principal | None:
    """The caller behind the bearer token or session cookie (cached per request)."""
    if PRINCIPAL in request:
        return request[PRINCIPAL]
    principal = None
    token = presented_token(request)
    from_cookie = bool(token) and not _bearer(request)
    kind = token_kind(token) if token else None
    resolver = request.app[RESOLVERS].get(kind) if kind else None
    if resolver is not None:
        digest, now = hash_token(token), request.app[CLOCK].now()
        cache = request.app.get(PRINCIPALS) if kind in CACHED_KINDS else None
        principal = cache.get(digest, now) if cache is not None else None
        if principal is None:
            async with request.app[DATABASE].sessions() as session:
                principal = await resolver(session, digest, now)
            if cache is not None and principal is not None:
                cache.put(digest, principal)
    request[PRINCIPAL] = principal
    request[VIA_COOKIE] = from_cookie and principal is not None
    return principal


async def _authorise(request: web.Request, roles: Roles) -> Principal | None:
    """Authenticate, check roles, and check CSRF on cookie-authenticated changes."""
    who = require(await authenticate(request), roles)
    # Public routes (sign-in, pairing) change nothing of the signed-in person's,
    # so a forged cross-site call gains nothing (the sign-in forms also check Origin).
    protected = not isinstance(roles, Public)
    if protected and who is not None and request[VIA_COOKIE] and request.method in UNSAFE:
        await _check_csrf(request, request.cookies.get(SESSION_COOKIE, ""))
    return who


async def still_signed_in(request: web.Request) -> bool:
    """Whether the token this long-lived request started with is still valid now."""
    request.pop(PRINCIPAL, None)
    return await authenticate(request) is not None


def csrf_for(request: web.Request) -> str:
    """The CSRF token to embed in this session's forms ('' when not signed in)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    secret = request.app[SETTINGS].secret_key.get_secret_value()
    return csrf_token(secret, token) if token else ""


async def _check_csrf(request: web.Request, session_token: str) -> None:
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent and request.content_type in {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }:
        form = await request.post()
        value = form.get("csrf_token", "")
        sent = value if isinstance(value, str) else ""
    secret = request.app[SETTINGS].secret_key.get_secret_value()
    if sent != csrf_token(secret, session_token):
        raise Forbidden("The form has expired or did not come from this site; reload the page.")


def client_address(request: web.Request) -> str:
    """The caller's address for rate limiting.

    Behind a reverse proxy listed in ``trusted_proxies`` it is the address the
    proxy saw (the last hop of ``X-Forwarded-For``); otherwise the peer's own,
    so a client cannot choose its own address by sending the header.
    """
    remote = request.remote or "unknown"
    if remote in request.app[SETTINGS].trusted_proxies:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        if hops and hops[-1]:
            return hops[-1][:64]
    return remote


@contextmanager
def counting_failures(
    request: web.Request, purpose: str, *, account: str | None = None
) -> Iterator[None]:
    """Refuse callers who failed too often lately; count this attempt until it succeeds.

    Only failures count (a wrong password, an unknown code), so everyone behind
    one school address can sign in at 9:00 while a guesser is slowed down. The
    attempt is counted before the secret is checked, so guesses sent at once are
    limited too. With ``account`` (an email or a pupil code) the account has a
    limit of its own, whatever the address: a guesser spread over many addresses
    is stopped, and one child mistyping locks their own code, not the ward's
    address.
    """
    now = request.app[CLOCK].now()
    limits = [(request.app[LOGIN_LIMITER], f"{purpose}:{client_address(request)}")]
    if account is not None:
        account_key = f"{purpose}:{account.strip().lower()[:320]}"
        limits.append((request.app[ACCOUNT_LIMITER], account_key))
    begun: list[tuple[RateLimiter, str]] = []
    try:
        for limiter, key in limits:
            limiter.begin(key, now)
            begun.append((limiter, key))
    except RateLimited:
        for limiter, key in begun:
            limiter.end(key, now, failed=False)
        raise
    failed = False
    try:
        yield
    except DomainError:
        failed = True
        raise
    finally:
        for limiter, key in begun:
            limiter.end(key, now, failed=failed)


def check_origin(request: web.Request) -> None:
    """Refuse a browser request whose Origin is not this service's (websockets, forms)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    settings = request.app[SETTINGS]
    allowed = {
        f"{request.scheme}://{request.host}",
        _origin_of(settings.base_url),
        *(_origin_of(o) for o in settings.allowed_origins),
    }
    if origin not in allowed:
        raise Forbidden(f"Origin {origin!r} is not allowed to connect here.")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def require(principal: Principal | None, roles: Roles) -> Principal | None:
    """Check the caller against a role set; raises ``Unauthorized`` or ``Forbidden``."""
    if isinstance(roles, Public):
        return principal
    if principal is None:
        raise Unauthorized("Sign in first: this needs a valid session or token.")
    if principal.role not in roles:
        raise Forbidden(f"Your role ({principal.role.value}) may not do this.")
    return principal


class Routes:
    """The routes of one package; ``install(app)`` mounts them."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self._declared: list[tuple[Endpoint, Handler]] = []

    def api(
        self,
        method: str,
        path: str,
        *,
        roles: Iterable[Role] | Public,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        errors: Iterable[int] = (),
        raw_body: Iterable[str] = (),
        raw_response: Iterable[str] = (),
    ) -> Callable[[Handler], Handler]:
        """Declare a JSON API route; the handler gets ``(request, who, body=, query=)``.

        ``raw_body`` names the media types of a body the handler reads itself
        (an uploaded file), ``raw_response`` those of a response it builds
        itself (a ``web.Response`` of CSV or PDF), for the OpenAPI document.
        """
        return self._declare(
            method,
            path,
            roles,
            "api",
            summary,
            body=body,
            query=query,
            response=response,
            status=status,
            errors=tuple(errors),
            raw_body=tuple(raw_body),
            raw_response=tuple(raw_response),
        )

    def page(
        self, method: str, path: str, *, roles: Iterable[Role] | Public, summary: str
    ) -> Callable[[Handler], Handler]:
        """Declare an HTML page; anonymous callers are sent to the sign-in page."""
        return self._declare(method, path, roles, "page", summary)

    def socket(
        self, path: str, *, roles: Iterable[Role] | Public, summary: str
    ) -> Callable[[Handler], Handler]:
        """Declare a websocket; the handler authenticates its own first message or header."""
        return self._declare("GET", path, roles, "socket", summary)

    def _declare(
        self,
        method: str,
        path: str,
        roles: Iterable[Role] | Public,
        kind: Kind,
        summary: str,
        **extra: Any,
    ) -> Callable[[Handler], Handler]:
        role_set: Roles = roles if isinstance(roles, Public) else frozenset(roles)
        if not isinstance(role_set, Public) and not role_set:
            raise ValueError(f"{method} {path} declares no roles")

        def decorate(fn: Handler) -> Handler:
            response = extra.get("response")
            endpoint = Endpoint(
                method=method,
                path=path,
                roles=role_set,
                kind=kind,
                summary=summary,
                name=fn.__name__,
                tags=(self.tag,),
                adapter=TypeAdapter(response) if response is not None else None,
                **extra,
            )
            self._declared.append((endpoint, fn))
            return fn

        return decorate

    def install(self, app: web.Application) -> None:
        """Add the declared routes to ``app`` and record them for OpenAPI and tests."""
        for endpoint, fn in self._declared:
            wrapped = _WRAPPERS[endpoint.kind](endpoint, fn)
            setattr(wrapped, ENDPOINT_ATTR, endpoint)
            app.router.add_route(endpoint.method, endpoint.path, wrapped, name=endpoint.name)
            app[ENDPOINTS].append(endpoint)


def _api_handler(endpoint: Endpoint, fn: Handler) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        who = await _authorise(request, endpoint.roles)
        kwargs: dict[str, Any] = {}
        if endpoint.body is not None:
            raw = await request.read()
            if not raw.strip():
                raise InvalidInput("This request needs a JSON body.")
            # Strict: a number is not a boolean, 1.0 is not an integer (as the document says).
            kwargs["body"] = endpoint.body.model_validate_json(raw, strict=True)
        if endpoint.query is not None:
            kwargs["query"] = _parse_query(endpoint.query, request)
        result = await fn(request, who, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None or endpoint.adapter is None:
            return web.Response(status=204 if endpoint.status == 200 else endpoint.status)
        text = endpoint.adapter.dump_json(result).decode()
        return web.Response(text=text, status=endpoint.status, content_type="application/json")

    return handle


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _parse_query(model: type[BaseModel], request: web.Request) -> BaseModel:
    """The query string as ``model``; a date is YYYY-MM-DD, never a count of seconds.

    pydantic reads ``?date=0`` as 1970-01-01; the document says ``format: date``.
    """
    raw = dict(request.query)
    for name, info in model.model_fields.items():
        value = raw.get(info.alias or name)
        if value is None:
            continue
        kinds = set(getattr(info.annotation, "__args__", ())) | {info.annotation}
        pattern = ISO_DATETIME if datetime in kinds else ISO_DATE if date in kinds else None
        if pattern is not None and not pattern.match(value):
            raise InvalidInput(
                f"{name} must be a date like 2026-09-03.",
                errors=[{"field": name, "message": "not an ISO 8601 date"}],
            )
    return model.model_validate(raw)


def _page_handler(endpoint: Endpoint, fn: Handler) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            who = await _authorise(request, endpoint.roles)
            if who is not None and NAV_BADGES in request.app:
                request[PAGE_BADGES] = await request.app[NAV_BADGES](request, who)
            result: web.StreamResponse = await fn(request, who)
        except Unauthorized:
            target = quote(request.path_qs, safe="/?=&")
            raise web.HTTPSeeOther(f"/login?next={target}") from None
        except DomainError as exc:
            # People get a page that says what happened, not a JSON document.
            from telepresence.platform.http.rendering import render_problem

            return render_problem(request, exc)
        except ValidationError as exc:
            # A form value a page's model refused: the same page, with the fields named.
            from telepresence.platform.http.rendering import render_problem

            refused = InvalidInput(
                "Some of what was entered could not be used. Go back and check it.",
                errors=validation_errors(exc),
            )
            return render_problem(request, refused)
        result.headers.setdefault("Cache-Control", "no-store")
        return result

    return handle


def _socket_handler(endpoint: Endpoint, fn: Handler) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        check_origin(request)
        result: web.StreamResponse = await fn(request, endpoint)
        return result

    return handle


_WRAPPERS: dict[Kind, Callable[[Endpoint, Handler], Handler]] = {
    "api": _api_handler,
    "page": _page_handler,
    "socket": _socket_handler,
}
