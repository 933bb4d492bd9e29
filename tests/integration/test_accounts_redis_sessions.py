"""With TRUSTDESK_SESSION_REDIS_URL set, sessions live in a real Redis, not the database."""

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.conftest import make_client, post_form
from tests.support.env import IN_CI, reachable
from tests.support.factories import PASSWORD, make_user
from trustdesk.accounts.tables import Session
from trustdesk.settings import reset_settings_cache

REDIS_SESSIONS = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_sessions(monkeypatch: pytest.MonkeyPatch):
    if not reachable("127.0.0.1", 6379):
        if IN_CI:
            pytest.fail("Redis is not reachable at 127.0.0.1:6379 (CI=true: failing, not skipping)")
        pytest.skip("Redis not running")
    import redis

    redis.Redis.from_url(REDIS_SESSIONS).flushdb()
    monkeypatch.setenv("TRUSTDESK_SESSION_REDIS_URL", REDIS_SESSIONS)
    reset_settings_cache()
    yield redis.Redis.from_url(REDIS_SESSIONS)
    monkeypatch.undo()
    reset_settings_cache()


async def _login(client: AsyncTestClient, email: str, password: str = PASSWORD):
    return await post_form(client, "/login", {"email": email, "password": password},
                           token_from="/login", follow_redirects=False)


async def test_sessions_round_trip_through_redis(app, client: AsyncTestClient, redis_sessions) -> None:
    user = await make_user("buyer")
    assert (await _login(client, user.email)).status_code == 303
    assert await Session.count() == 0
    assert any(k.startswith(b"trustdesk:session:") for k in redis_sessions.keys())
    assert (await client.get("/account")).status_code == 200
    async with make_client(app, "http://other.local") as other:
        await _login(other, user.email)
        r = await post_form(client, "/account/password", {
            "current_password": PASSWORD, "new_password": "a brand new passphrase"},
            token_from="/account")
        assert "Password changed" in r.text
        assert (await other.get("/account", follow_redirects=False)).status_code == 303
    r = await post_form(client, "/logout", {}, follow_redirects=False)
    assert r.status_code == 303
    assert not [k for k in redis_sessions.keys() if k.startswith(b"trustdesk:session:")]
    assert (await client.get("/account", follow_redirects=False)).status_code == 303
