"""The integration suite's log check (conftest.clean_server_log) sees what it must."""

from __future__ import annotations

import pytest
from aiohttp import web

from telepresence.platform.errors import error_middleware


@pytest.mark.unhandled_error_expected
async def test_the_log_check_sees_an_unhandled_error(aiohttp_client, clean_server_log):
    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    assert (await client.get("/boom")).status == 500
    assert [(e["method"], e["path"]) for e in clean_server_log] == [("GET", "/boom")]
