"""Rating rules: only the buyer of a completed order rates, once, within 30 days; edits in 7 days."""

from datetime import timedelta

import pytest

from tests.support.factories import make_user
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import now, set_clock
from trustdesk.core.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from trustdesk.core.tables import AuditEntry, OutboxEvent
from trustdesk.escrow import services as escrow
from trustdesk.escrow.tables import Payment
from trustdesk.ratings import services
from trustdesk.ratings.tables import Rating


@pytest.fixture(name="client")
async def loop_client(app):
    """HTTP client on the test's own event loop (the shared AsyncTestClient runs the app on
    another loop, where this loop's PostgreSQL pool cannot be used)."""
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local",
                                 follow_redirects=True) as c:
        yield c


async def completed_order(seller=None, buyer=None, *, release: bool = True):
    seller = seller or await make_user("seller")
    buyer = buyer or await make_user("buyer")
    order = await escrow.create_order(
        seller.id, escrow.NewOrder(title="Lawn suit", amount_minor=450000, shipping_minor=25000),
        actor=Actor(Role.SELLER, seller.id))
    await escrow.claim_for_buyer(order.id, buyer.id, actor=Actor(Role.BUYER, buyer.id))
    ref = f"ref-{order.id}"
    await Payment(order=order.id, buyer=buyer.id, reference=ref, amount_minor=475000,
                  currency="PKR", created_at=now()).save()
    await escrow.fund_order(order.id, payment_reference=ref, actor=Actor.system("web"))
    await escrow.ship_order(order.id, carrier="TCS", tracking_number="T1",
                            actor=Actor(Role.SELLER, seller.id))
    if release:
        await escrow.confirm_delivery(order.id, actor=Actor(Role.BUYER, buyer.id))
        await escrow.release_funds(order.id, actor=Actor(Role.BUYER, buyer.id))
    return seller, buyer, order


@pytest.fixture
def clock():
    moments = {"at": None}

    def move(delta: timedelta) -> None:
        base = moments["at"] or now()
        moments["at"] = base + delta
        set_clock(lambda: moments["at"])

    yield move
    set_clock(None)


class TestRateOrder:
    async def test_buyer_rates_a_completed_order_once(self) -> None:
        seller, buyer, order = await completed_order()
        before = await services.record_version(seller.id)
        rating = await services.rate_order(order.id, stars=5, text="Lovely fabric", tags=["as_described"],
                                           actor=Actor(Role.BUYER, buyer.id))
        assert rating.stars == 5 and rating.tags == "as_described"
        assert await services.record_version(seller.id) == before + 1
        assert await OutboxEvent.count().where(OutboxEvent.event_type == "rating.created") == 1
        assert await AuditEntry.count().where(AuditEntry.action == "ratings:rating:created") == 1
        with pytest.raises(InvalidTransition, match="already rated"):
            await services.rate_order(order.id, stars=4, actor=Actor(Role.BUYER, buyer.id))
        assert await Rating.count() == 1

    async def test_seller_cannot_rate_themselves(self) -> None:
        seller, _, order = await completed_order()
        with pytest.raises(NotAllowed):
            await services.rate_order(order.id, stars=5, actor=Actor(Role.SELLER, seller.id))

    async def test_a_stranger_gets_not_found(self) -> None:
        _, _, order = await completed_order()
        stranger = await make_user("buyer")
        with pytest.raises(NotFound):
            await services.rate_order(order.id, stars=1, actor=Actor(Role.BUYER, stranger.id))

    async def test_an_unfinished_order_cannot_be_rated(self) -> None:
        _, buyer, order = await completed_order(release=False)
        with pytest.raises(InvalidTransition, match="completed"):
            await services.rate_order(order.id, stars=5, actor=Actor(Role.BUYER, buyer.id))
        assert await Rating.count() == 0

    async def test_the_rating_window_closes_after_30_days(self, clock) -> None:
        _, buyer, order = await completed_order()
        clock(timedelta(days=30, minutes=1))
        with pytest.raises(InvalidTransition, match="window has closed"):
            await services.rate_order(order.id, stars=5, actor=Actor(Role.BUYER, buyer.id))

    async def test_rating_on_day_29_is_fine(self, clock) -> None:
        _, buyer, order = await completed_order()
        clock(timedelta(days=29))
        await services.rate_order(order.id, stars=4, actor=Actor(Role.BUYER, buyer.id))

    @pytest.mark.parametrize("stars", [0, 6, "x", "", None, -1])
    async def test_stars_must_be_1_to_5(self, stars) -> None:
        _, buyer, order = await completed_order()
        with pytest.raises(ValidationFailed):
            await services.rate_order(order.id, stars=stars, actor=Actor(Role.BUYER, buyer.id))

    async def test_text_is_limited_to_2000_characters_and_tags_to_the_list(self) -> None:
        _, buyer, order = await completed_order()
        with pytest.raises(ValidationFailed, match="2,000"):
            await services.rate_order(order.id, stars=5, text="x" * 2001, actor=Actor(Role.BUYER, buyer.id))
        with pytest.raises(ValidationFailed, match="tags"):
            await services.rate_order(order.id, stars=5, tags=["bribe"], actor=Actor(Role.BUYER, buyer.id))
        await services.rate_order(order.id, stars=5, text="x" * 2000, actor=Actor(Role.BUYER, buyer.id))


class TestEditAndReply:
    async def test_edit_within_7_days_then_final(self, clock) -> None:
        _, buyer, order = await completed_order()
        rating = await services.rate_order(order.id, stars=2, actor=Actor(Role.BUYER, buyer.id))
        clock(timedelta(days=6))
        edited = await services.edit_rating(rating.id, stars=4, text="Sorted out",
                                            actor=Actor(Role.BUYER, buyer.id))
        assert edited.stars == 4 and edited.edited_at is not None
        clock(timedelta(days=1, minutes=1))
        with pytest.raises(InvalidTransition, match="final"):
            await services.edit_rating(rating.id, stars=5, actor=Actor(Role.BUYER, buyer.id))

    async def test_only_the_buyer_edits(self) -> None:
        seller, buyer, order = await completed_order()
        rating = await services.rate_order(order.id, stars=2, actor=Actor(Role.BUYER, buyer.id))
        with pytest.raises(NotFound):
            await services.edit_rating(rating.id, stars=5, actor=Actor(Role.SELLER, seller.id))

    async def test_seller_replies_once(self) -> None:
        seller, buyer, order = await completed_order()
        rating = await services.rate_order(order.id, stars=3, actor=Actor(Role.BUYER, buyer.id))
        with pytest.raises(NotFound):
            await services.reply_to_rating(rating.id, text="Hi", actor=Actor(Role.BUYER, buyer.id))
        await services.reply_to_rating(rating.id, text="Sorry for the delay.",
                                       actor=Actor(Role.SELLER, seller.id))
        with pytest.raises(InvalidTransition, match="already replied"):
            await services.reply_to_rating(rating.id, text="Again", actor=Actor(Role.SELLER, seller.id))


class TestHide:
    async def test_hidden_rating_still_counts_unless_fraud(self) -> None:
        seller, buyer, order = await completed_order()
        rating = await services.rate_order(order.id, stars=1, actor=Actor(Role.BUYER, buyer.id))
        mediator = await make_user("mediator")
        low = await services.seller_score(seller.id)
        with pytest.raises(NotAllowed):
            await services.hide_rating(rating.id, reason="abusive words", actor=Actor(Role.SELLER, seller.id))
        await services.hide_rating(rating.id, reason="abusive words", actor=Actor(Role.MEDIATOR, mediator.id))
        assert (await services.seller_score(seller.id)).rating_count == 1
        assert (await services.seller_score(seller.id)).score == low.score
        assert await AuditEntry.count().where(AuditEntry.action == "ratings:rating:hidden") == 1

    async def test_hidden_for_fraud_leaves_the_score(self) -> None:
        seller, buyer, order = await completed_order()
        rating = await services.rate_order(order.id, stars=1, actor=Actor(Role.BUYER, buyer.id))
        mediator = await make_user("mediator")
        await services.hide_rating(rating.id, reason="fake order ring", fraud=True,
                                   actor=Actor(Role.MEDIATOR, mediator.id))
        score = await services.seller_score(seller.id)
        assert score.rating_count == 0 and score.defect_orders == 0


class TestHttp:
    async def test_buyer_rates_through_the_order_page(self, client) -> None:
        from tests.integration.conftest import post_form
        from tests.support.factories import login

        seller, buyer, order = await completed_order()
        await login(client, buyer)
        page = await client.get(f"/orders/{order.id}")
        assert page.status_code == 200
        assert f'action="/ratings/order/{order.id}"' in page.text
        response = await post_form(client, f"/ratings/order/{order.id}",
                                   {"stars": "4", "text": "Good <b>cloth</b>", "tags": ["fast_shipping", "responsive"]},
                                   token_from=f"/orders/{order.id}")
        assert response.status_code == 200
        rating = await services.get_rating_for_order(order.id)
        assert rating.stars == 4 and rating.tags == "fast_shipping,responsive"
        public = await client.get(f"/sellers/{seller.slug}")
        assert "Good &lt;b&gt;cloth&lt;/b&gt;" in public.text

    async def test_seller_page_is_public_and_404_for_unknown(self, client) -> None:
        seller, buyer, order = await completed_order()
        await services.rate_order(order.id, stars=5, text="Great", actor=Actor(Role.BUYER, buyer.id))
        response = await client.get(f"/sellers/{seller.slug}")
        assert response.status_code == 200
        assert "score-chart" in response.text and "<svg" in response.text
        assert "Dispute record" in response.text
        assert (await client.get("/sellers/nobody-here")).status_code == 404
        assert (await client.get("/how-trust-works")).status_code == 200


class TestDisputeMarks:
    async def test_rating_on_an_order_the_seller_lost_is_marked_and_counts_as_a_defect(self, client) -> None:
        from trustdesk.disputes import services as disputes

        seller, buyer, order = await completed_order(release=False)
        await escrow.confirm_delivery(order.id, actor=Actor(Role.BUYER, buyer.id))
        mediator = await make_user("mediator")
        dispute = await disputes.open_dispute(order.id, reason="damaged", wanted="full_refund",
                                              statement="The vase arrived in pieces.",
                                              actor=Actor(Role.BUYER, buyer.id))
        await disputes.contest(dispute.id, statement="It was packed in bubble wrap.",
                               actor=Actor(Role.SELLER, seller.id))
        await disputes.assign_mediator(dispute.id, actor=Actor(Role.MEDIATOR, mediator.id))
        await disputes.rule(dispute.id, outcome="full_refund",
                            reasons="Photos show breakage consistent with poor packing.",
                            actor=Actor(Role.MEDIATOR, mediator.id))
        await services.rate_order(order.id, stars=3, text="Refunded in the end",
                                  actor=Actor(Role.BUYER, buyer.id))
        score = await services.seller_score(seller.id)
        assert score.defects_dispute_lost == 1 and score.defect_orders == 1
        page = await client.get(f"/sellers/{seller.slug}")
        assert "Seller lost the dispute on this order" in page.text
        assert "Ruled for the buyer" in page.text


class TestAdminForm:
    async def test_mediator_hides_a_rating_through_the_admin_form(self) -> None:
        from types import SimpleNamespace

        from trustdesk.ratings.admin_config import HideRating, hide_rating_endpoint

        _, buyer, order = await completed_order()
        rating = await services.rate_order(order.id, stars=1, text="You are all thieves!!",
                                           actor=Actor(Role.BUYER, buyer.id))
        mediator = await make_user("mediator")
        request = SimpleNamespace(user=SimpleNamespace(user=mediator))
        message = await hide_rating_endpoint(request, HideRating(rating_id=rating.id, reason="Insults"))
        assert "still counts" in message
        with pytest.raises(ValueError, match="already hidden"):
            await hide_rating_endpoint(request, HideRating(rating_id=rating.id, reason="Insults again"))
        seller_user = await make_user("seller")
        with pytest.raises(ValueError, match="Only mediators"):
            await hide_rating_endpoint(SimpleNamespace(user=SimpleNamespace(user=seller_user)),
                                       HideRating(rating_id=rating.id, reason="I do not like it"))
