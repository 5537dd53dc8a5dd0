"""Server-sent event streams of the pages: a topic's events, while the viewer is signed in."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp_sse import sse_response

from telepresence.platform.http.context import EVENTS
from telepresence.platform.security.revocation import SIGNED_IN_STREAMS, until_revoked

__all__ = ["relay_topic"]


async def relay_topic(
    request: web.Request, topic: str, event: str, recheck_seconds: float
) -> web.StreamResponse:
    """Each event published on ``topic`` sent as one ``event`` message (its JSON), until the
    viewer goes (looked for at least every ``recheck_seconds``) or their sign-in ends:
    signed out or deactivated (``SignedInStreams``)."""
    async with (
        request.app[SIGNED_IN_STREAMS].watch(request) as revoked,
        request.app[EVENTS].subscribe(topic) as queue,
        sse_response(request, ping_interval=15) as stream,
    ):
        while stream.is_connected():
            try:
                published = await until_revoked(
                    asyncio.wait_for(queue.get(), recheck_seconds), revoked
                )
            except TimeoutError:
                continue  # is the viewer still there?
            if published is None:
                break
            await stream.send(json.dumps(published), event=event)
    return stream
