"""/account/integrations: sellers register domains, verify them with an injected fetcher."""

import pytest

from tests.integration.conftest import post_form
from tests.integration.test_ratings_rules import loop_client  # noqa: F401
from tests.support.factories import login, make_user
from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import NotAllowed, NotFound, ValidationFailed
from trustdesk.ratings import services
from trustdesk.ratings.tables import SellerDomain


async def test_seller_sees_integrations_page_with_snippets(client) -> None:
    seller = await make_user("seller", store_name="Snippet Shop")
    await login(client, seller)
    response = await client.get("/account/integrations")
    assert response.status_code == 200
    assert "/badge/snippet-shop.js" in response.text
    assert "/badge/snippet-shop.svg" in response.text


async def test_buyer_is_refused_integrations(client) -> None:
    buyer = await make_user("buyer")
    await login(client, buyer)
    response = await client.get("/account/integrations", follow_redirects=False)
    assert response.status_code == 403


async def test_add_domain_through_the_form_and_reject_garbage(client) -> None:
    seller = await make_user("seller")
    await login(client, seller)
    response = await post_form(client, "/account/integrations/domains",
                               {"domain": "https://Shop.Example.com/cart"}, token_from="/account/integrations")
    assert response.status_code == 200  # followed the redirect
    assert "shop.example.com" in response.text
    bad = await post_form(client, "/account/integrations/domains", {"domain": "not a domain!"},
                          token_from="/account/integrations")
    assert bad.status_code == 422
    assert "does not look like a domain" in bad.text
    assert await SellerDomain.count() == 1


async def test_verification_needs_the_token_line() -> None:
    seller = await make_user("seller")
    actor = Actor(Role.SELLER, seller.id)
    row = await services.add_domain(seller.id, "shop.example.com", actor=actor)
    seen: list[str] = []

    async def wrong(url: str) -> str:
        seen.append(url)
        return "hello"

    with pytest.raises(ValidationFailed):
        await services.verify_domain(row.id, actor=actor, fetch=wrong)
    assert seen == ["https://shop.example.com/.well-known/trustdesk.txt"]
    assert await services.list_verified_domains(seller.id) == []

    async def right(url: str) -> str:
        return f"# TrustDesk\ntrustdesk-verification={row.token}\n"

    before = await services.record_version(seller.id)
    await services.verify_domain(row.id, actor=actor, fetch=right)
    assert await services.list_verified_domains(seller.id) == ["shop.example.com"]
    assert await services.record_version(seller.id) == before + 1


async def test_network_failure_is_reported_not_raised_as_500() -> None:
    seller = await make_user("seller")
    actor = Actor(Role.SELLER, seller.id)
    row = await services.add_domain(seller.id, "down.example.com", actor=actor)

    async def boom(url: str) -> str:
        raise OSError("connection refused")

    with pytest.raises(ValidationFailed, match="connection refused"):
        await services.verify_domain(row.id, actor=actor, fetch=boom)


async def test_another_seller_cannot_touch_my_domain() -> None:
    seller = await make_user("seller")
    other = await make_user("seller")
    row = await services.add_domain(seller.id, "mine.example.com", actor=Actor(Role.SELLER, seller.id))
    with pytest.raises(NotFound):
        await services.remove_domain(row.id, actor=Actor(Role.SELLER, other.id))


async def test_mark_verified_only_in_development(monkeypatch) -> None:
    seller = await make_user("seller")
    actor = Actor(Role.SELLER, seller.id)
    row = await services.add_domain(seller.id, "dev.example.com", actor=actor)
    with pytest.raises(NotAllowed):  # the test environment is not development
        await services.mark_domain_verified(row.id, actor=actor)
