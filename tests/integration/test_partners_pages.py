"""Sellers' API keys and webhooks on /account/integrations: created once-shown, hashed, revocable;
the CLI's create-api-key prints the key alone on its last line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import post_form
from tests.integration.test_api_orders import loop_client
from tests.support.factories import login, make_user
from trustdesk.partners.auth import LIMITER
from trustdesk.partners.tables import ApiKey, WebhookEndpoint

client = pytest.fixture(loop_client, name="client")

PAGE = "/account/integrations"
ROOT = Path(__file__).resolve().parents[2]


async def test_key_is_shown_once_stored_hashed_and_revocable(client: Any) -> None:
    LIMITER.reset()
    seller = await make_user("seller")
    await login(client, seller)
    r = await post_form(client, "/account/integrations/keys", {"name": "Shop checkout"},
                        token_from=PAGE)
    assert r.status_code == 201
    raw = r.text.split('id="secret-value"')[1].split('value="')[1].split('"')[0]
    assert raw.startswith("td_key_")
    row = await ApiKey.objects().first()
    assert row.name == "Shop checkout" and raw not in row.key_hash
    listing = (await client.get(PAGE)).text
    assert "Shop checkout" in listing and row.prefix in listing and raw not in listing
    ok = await client.get("/api/v1/orders", headers={"Authorization": f"Bearer {raw}"})
    assert ok.status_code == 200
    listing = (await client.get(PAGE)).text
    assert "never" not in listing.split("Shop checkout")[1].split("</tr>")[0]  # last used shown
    r = await post_form(client, f"/account/integrations/keys/{row.id}/revoke", {}, token_from=PAGE)
    assert r.status_code == 303
    assert (await client.get("/api/v1/orders",
                             headers={"Authorization": f"Bearer {raw}"})).status_code == 401
    assert "revoked" in (await client.get(PAGE)).text


async def test_webhook_endpoint_secret_shown_once(client: Any) -> None:
    seller = await make_user("seller")
    await login(client, seller)
    r = await post_form(client, "/account/integrations/webhooks",
                        {"url": "https://shop.example/hooks", "events": "order.funded"},
                        token_from=PAGE)
    assert r.status_code == 201 and "whsec_" in r.text
    row = await WebhookEndpoint.objects().first()
    assert row.url == "https://shop.example/hooks" and row.events == '["order.funded"]'
    page = (await client.get(PAGE)).text
    assert "https://shop.example/hooks" in page and row.secret not in page


async def test_bad_webhook_url_is_explained(client: Any) -> None:
    seller = await make_user("seller")
    await login(client, seller)
    r = await post_form(client, "/account/integrations/webhooks",
                        {"url": "javascript:alert(1)", "events": "*"}, token_from=PAGE,
                        headers={"referer": f"http://testserver.local{PAGE}"})
    assert r.status_code == 303
    page = (await client.get(PAGE)).text
    assert "full http(s) address" in page and await WebhookEndpoint.count() == 0


async def test_buyers_cannot_create_keys_and_other_sellers_keys_are_404(client: Any) -> None:
    owner = await make_user("seller")
    await login(client, owner)
    await post_form(client, "/account/integrations/keys", {"name": "mine"}, token_from=PAGE)
    key = await ApiKey.objects().first()
    stranger = await make_user("seller")
    await login(client, stranger)
    r = await post_form(client, f"/account/integrations/keys/{key.id}/revoke", {}, token_from=PAGE)
    assert r.status_code == 404
    assert (await ApiKey.objects().first()).revoked_at is None
    buyer = await make_user("buyer")
    await login(client, buyer)
    r = await post_form(client, "/account/integrations/keys", {"name": "x"}, token_from="/account")
    assert r.status_code == 403 and await ApiKey.count() == 1


async def test_cli_create_api_key_prints_the_key_last() -> None:
    seller = await make_user("seller", store_name="Karachi Kurtas")
    env = {**os.environ}
    env.pop("_TRUSTDESK_TEST_ENV_READY", None)
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "trustdesk.cli", "create-api-key", "--seller",
                           seller.slug, "--name", "ERP"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("td_key_") and " " not in last
    row = await ApiKey.objects().where(ApiKey.seller == seller.id).first()
    assert row.name == "ERP"
    from trustdesk.partners.services import authenticate_key

    assert (await authenticate_key(last))["seller_id"] == seller.id
    missing = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "trustdesk.cli", "create-api-key", "--seller",
                              "nobody-here"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "no seller" in missing.stderr
