"""benchapp.async_views: the Flask app's async views (the /async route: test_app.py)."""

from __future__ import annotations

import asyncio

from benchapp.async_views import GeventFlask, client_timeout


def test_async_session_holds_the_configured_pool_size():
    """aiohttp's connector allows 100 connections by default; the async view's
    session takes the app's pool size, as the sync pool does."""
    app = GeventFlask(__name__)
    app.gevent_patched = True

    async def limit() -> int:
        session = app.loop_session(client_timeout(1, 5), 700)
        try:
            return session.connector.limit
        finally:
            await session.close()

    assert asyncio.run(limit()) == 700
