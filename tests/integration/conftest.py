"""Integration fixtures: migrated database (SQLite or PostgreSQL), clean tables, HTTP client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

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
    yield


@pytest.fixture(scope="session")
def app() -> Any:
    from trustdesk.app import create_app

    return create_app(with_worker=False)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
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
