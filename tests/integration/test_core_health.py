"""/healthz says 503 when the broker cannot be reached, 200 when everything answers."""

import pytest
from litestar.testing import AsyncTestClient

from tests.support.env import IN_CI, REDIS_URL, reachable
from trustdesk.settings import reset_settings_cache


@pytest.fixture
def broker_url(monkeypatch: pytest.MonkeyPatch):
    def set_url(url: str) -> None:
        monkeypatch.setenv("TRUSTDESK_BROKER_URL", url)
        reset_settings_cache()

    yield set_url
    monkeypatch.undo()
    reset_settings_cache()


async def test_unreachable_broker_makes_health_503(client: AsyncTestClient, broker_url) -> None:
    broker_url("redis://127.0.0.1:1/0")
    r = await client.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["ok"] is False and body["database"]["ok"] is True and body["broker"]["ok"] is False


async def test_real_redis_broker_is_reported_healthy(client: AsyncTestClient, broker_url) -> None:
    if not reachable("127.0.0.1", 6379):
        if IN_CI:
            pytest.fail("Redis is not reachable at 127.0.0.1:6379 (CI=true: failing, not skipping)")
        pytest.skip("Redis not running")
    broker_url(REDIS_URL)
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json()["broker"]["kind"] == "redis"
