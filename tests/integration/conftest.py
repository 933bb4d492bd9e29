"""Integration fixtures: migrated database (SQLite or PostgreSQL), clean tables, HTTP client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient  # noqa: F401 (type hints in tests)

from tests.support.db import migrate_once, truncate_all
from trustdesk.db import start_pool


@pytest.fixture(scope="session", autouse=True)
async def _database() -> AsyncIterator[None]:
    await start_pool()
    await migrate_once()
    yield


@pytest.fixture(autouse=True)
async def _clean(_database: None) -> AsyncIterator[None]:
    await truncate_all()
    _empty_stored_files()
    yield


def _empty_stored_files() -> None:
    """Evidence blobs and upload scratch files belong to the rows just truncated."""
    import shutil

    from trustdesk.settings import get_settings

    for name in ("evidence", "upload-tmp"):
        shutil.rmtree(get_settings().data_path / name, ignore_errors=True)


@pytest.fixture(scope="session")
def app() -> Any:
    from trustdesk.app import create_app

    return create_app(with_worker=False)


def make_client(app: Any, base_url: str = "http://testserver.local") -> httpx.AsyncClient:
    """The app on the test's own event loop. (Litestar's AsyncTestClient runs the app on a portal
    loop in another thread, where this loop's PostgreSQL pool cannot be used.)"""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url,
                             follow_redirects=True)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as c:
        yield c


CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: AsyncTestClient, path: str = "/login") -> str:
    response = await client.get(path)
    match = CSRF_RE.search(response.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def post_form(client: AsyncTestClient, path: str, data: dict[str, Any],
                    token_from: str | None = None, **kwargs: Any) -> Any:
    """POST a form the way a browser would: with the page's CSRF token."""
    token = await csrf_token(client, token_from or "/")
    return await client.post(path, data={**data, "_csrf_token": token}, **kwargs)
