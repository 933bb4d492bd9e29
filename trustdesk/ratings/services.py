"""Ratings commands (rate, edit, reply, hide), seller domains, and the seller's public record.

Every command: one write_transaction() with the change, an audit entry, outbox events where
partners care, and bump_seller_record() so every web process re-renders the seller's badge.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trustdesk.accounts.tables import User
from trustdesk.core import audit, outbox
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import aware, now
from trustdesk.core.errors import (
    Conflict,
    InvalidTransition,
    NotAllowed,
    NotFound,
    ValidationFailed,
)
from trustdesk.db import after_commit, load_for_update, update_versioned, write_transaction
from trustdesk.escrow.states import COMPLETED, LABELS, OrderState
from trustdesk.escrow.tables import Order
from trustdesk.ratings import domains as dom
from trustdesk.ratings import scoring
from trustdesk.ratings.tables import Rating, SellerDomain, SellerRecord
from trustdesk.settings import get_settings

MAX_TEXT = 2000
MAX_REPLY = 2000
MAX_REASON = 500
TAGS: dict[str, str] = {
    "as_described": "As described",
    "fast_shipping": "Fast shipping",
    "good_packaging": "Good packaging",
    "responsive": "Responsive",
}
NOT_SHIPPED_REASON = "not_shipped_in_time"
COMPLETED_VALUES = frozenset(s.value for s in COMPLETED)
MAX_DOMAINS = 20


# -- the per-seller record version (badge caches compare against it) ---------------------------

async def bump_seller_record(seller_id: int) -> None:
    """Mark the seller's public record as changed; joins the caller's transaction if any.

    Other domains call this after anything that changes a seller's score (disputes resolved,
    orders cancelled for not shipping, a suspension) so badges re-render everywhere.
    """
    from trustdesk.ratings.badge_serving import invalidate_after_commit

    async with write_transaction():
        after_commit(lambda: invalidate_after_commit(seller_id))
        stamp = now()
        rows = await SellerRecord.update(
            {SellerRecord.version: SellerRecord.version + 1, SellerRecord.updated_at: stamp}
        ).where(SellerRecord.seller_id == seller_id).returning(SellerRecord.id)
        if rows:
            return
        inserted = await SellerRecord.insert(
            SellerRecord(seller_id=seller_id, version=1, updated_at=stamp)
        ).on_conflict(action="DO NOTHING").returning(SellerRecord.id)
        if not inserted:  # a racing writer created it first
            await SellerRecord.update(
                {SellerRecord.version: SellerRecord.version + 1, SellerRecord.updated_at: stamp}
            ).where(SellerRecord.seller_id == seller_id)


async def record_version(seller_id: int) -> int:
    row = await SellerRecord.select(SellerRecord.version).where(
        SellerRecord.seller_id == seller_id).first()
    return int(row["version"]) if row else 0


# -- validation helpers ------------------------------------------------------------------------

def clean_stars(value: Any) -> int:
    try:
        stars = int(str(value).strip())
    except (TypeError, ValueError):
        stars = 0
    if not 1 <= stars <= 5:
        raise ValidationFailed("Choose 1 to 5 stars.", field="stars")
    return stars


def clean_text(value: Any, limit: int = MAX_TEXT, field: str = "text") -> str:
    text = str(value or "").replace("\r\n", "\n").strip()
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    if len(text) > limit:
        raise ValidationFailed(f"Keep it to {limit:,} characters (this is {len(text):,}).",
                               field=field)
    return text


def clean_tags(values: Any) -> str:
    if values is None:
        return ""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v]
    tags = []
    for v in values:
        v = str(v).strip()
        if v not in TAGS:
            raise ValidationFailed("Pick tags from the list.", field="tags")
        if v not in tags:
            tags.append(v)
    return ",".join(tags)


def tag_labels(tags: str) -> list[str]:
    return [TAGS[t] for t in (tags or "").split(",") if t in TAGS]


# -- rating rules --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RatingChance:
    allowed: bool
    reason: str = ""
    until: datetime | None = None


def rating_chance(order: Order, user_id: int | None, existing: bool, at: datetime | None = None) -> RatingChance:
    """Whether `user_id` may rate `order` now; the reason if not (shown on the order page)."""
    at = at or now()
    if user_id is None or user_id != order.buyer:
        if user_id is not None and user_id == order.seller:
            return RatingChance(False, "Sellers cannot rate their own orders.")
        return RatingChance(False, "Only the buyer of this order can rate it.")
    if existing:
        return RatingChance(False, "You have already rated this order.")
    if order.state not in COMPLETED_VALUES:
        return RatingChance(False, f"You can rate the seller once the order is completed "
                                   f"(it is {LABELS[OrderState(order.state)].lower()}).")
    closed = aware(order.closed_at) or aware(order.updated_at) or at
    until = closed + get_settings().rating_window
    if at > until:
        days = get_settings().rating_window.days
        return RatingChance(False, f"Ratings are open for {days} days after an order completes; "
                                   "this one's window has closed.")
    return RatingChance(True, until=until)


def edit_until(rating: Rating | dict[str, Any]) -> datetime:
    created = rating["created_at"] if isinstance(rating, dict) else rating.created_at
    return aware(created) + get_settings().rating_edit_window  # type: ignore[operator]


def _rating_data(rating: Rating) -> dict[str, Any]:
    return {"id": rating.id, "order_id": rating.order, "stars": rating.stars,
            "text": rating.text, "tags": [t for t in rating.tags.split(",") if t]}


async def rate_order(order_id: int, *, stars: Any, text: Any = "", tags: Any = None,
                     actor: Actor) -> Rating:
    """The buyer rates a completed order once; raises NotFound, NotAllowed, InvalidTransition."""
    stars_v, text_v, tags_v = clean_stars(stars), clean_text(text), clean_tags(tags)
    async with write_transaction():
        order = await load_for_update(Order, order_id)
        if order is None or actor.user_id not in (order.buyer, order.seller):
            raise NotFound("Order not found.")
        if actor.user_id == order.seller:
            raise NotAllowed("Sellers cannot rate themselves.")
        existing = await Rating.exists().where(Rating.order == order_id)
        chance = rating_chance(order, actor.user_id, existing)  # type: ignore[arg-type]
        if not chance.allowed:
            raise InvalidTransition(chance.reason)
        stamp = now()
        rating = Rating(order=order.id, seller=order.seller, buyer=order.buyer, stars=stars_v,
                        text=text_v, tags=tags_v, created_at=stamp, updated_at=stamp, version=1)
        await rating.save()
        await audit.record("ratings:rating:created", subject_type="rating", subject_id=rating.id,
                           actor=actor, data={"order_id": order.id, "stars": stars_v,
                                              "tags": tags_v})
        await outbox.emit("rating.created", subject_type="rating", subject_id=rating.id,
                          data=_rating_data(rating), seller_id=order.seller, buyer_id=order.buyer)
        await bump_seller_record(order.seller)
    return rating


async def _load_rating(rating_id: int) -> Rating:
    rating = await load_for_update(Rating, rating_id)
    if rating is None:
        raise NotFound("Rating not found.")
    return rating  # type: ignore[return-value]


async def edit_rating(rating_id: int, *, stars: Any, text: Any = "", tags: Any = None,
                      actor: Actor) -> Rating:
    """The buyer changes their rating within the edit window; raises NotFound, InvalidTransition."""
    stars_v, text_v, tags_v = clean_stars(stars), clean_text(text), clean_tags(tags)
    async with write_transaction():
        rating = await _load_rating(rating_id)
        if actor.user_id != rating.buyer:
            raise NotFound("Rating not found.")
        if now() > edit_until(rating):
            days = get_settings().rating_edit_window.days
            raise InvalidTransition(f"Ratings can be changed for {days} days; this one is final now.")
        if rating.hidden:
            raise InvalidTransition("A mediator hid this rating; it cannot be changed.")
        before = {"stars": rating.stars, "text": rating.text, "tags": rating.tags}
        stamp = now()
        await update_versioned(Rating, rating, {Rating.stars: stars_v, Rating.text: text_v,
                                                Rating.tags: tags_v, Rating.edited_at: stamp,
                                                Rating.updated_at: stamp})
        await audit.record("ratings:rating:edited", subject_type="rating", subject_id=rating.id,
                           actor=actor, data={"before": before,
                                              "after": {"stars": stars_v, "tags": tags_v}})
        await bump_seller_record(rating.seller)
    return rating


async def reply_to_rating(rating_id: int, *, text: Any, actor: Actor) -> Rating:
    """The seller answers a rating publicly, once; raises NotFound, InvalidTransition."""
    reply = clean_text(text, MAX_REPLY, "reply")
    if not reply:
        raise ValidationFailed("Write your reply first.", field="reply")
    async with write_transaction():
        rating = await _load_rating(rating_id)
        if actor.user_id != rating.seller:
            raise NotFound("Rating not found.")
        if rating.replied_at is not None:
            raise InvalidTransition("You have already replied to this rating; replies are final.")
        stamp = now()
        await update_versioned(Rating, rating, {Rating.reply: reply, Rating.replied_at: stamp,
                                                Rating.updated_at: stamp})
        await audit.record("ratings:rating:replied", subject_type="rating", subject_id=rating.id,
                           actor=actor, data={"length": len(reply)})
        await bump_seller_record(rating.seller)
    return rating


async def hide_rating(rating_id: int, *, reason: Any, fraud: bool = False, actor: Actor) -> Rating:
    """A mediator hides an abusive rating (it still counts unless hidden for fraud)."""
    if actor.role != Role.MEDIATOR:
        raise NotAllowed("Only mediators can hide ratings.")
    why = clean_text(reason, MAX_REASON, "reason")
    if len(why) < 5:
        raise ValidationFailed("Give the reason for hiding this rating (it is logged).",
                               field="reason")
    async with write_transaction():
        rating = await _load_rating(rating_id)
        if rating.hidden:
            raise InvalidTransition("This rating is already hidden.")
        stamp = now()
        await update_versioned(Rating, rating, {
            Rating.hidden: True, Rating.hidden_reason: why, Rating.hidden_for_fraud: bool(fraud),
            Rating.hidden_at: stamp, Rating.hidden_by: actor.user_id, Rating.updated_at: stamp})
        await audit.record("ratings:rating:hidden", subject_type="rating", subject_id=rating.id,
                           actor=actor, data={"reason": why, "fraud": bool(fraud)})
        await bump_seller_record(rating.seller)
    return rating


# -- reads for pages ---------------------------------------------------------------------------

async def get_rating_for_order(order_id: int) -> Rating | None:
    return await Rating.objects().where(Rating.order == order_id).first()


async def get_seller_by_slug(slug: str) -> User:
    """An active, unsuspended seller; NotFound otherwise (no difference is shown)."""
    if not slug or len(slug) > 80:
        raise NotFound("Seller not found.")
    user = await User.objects().where((User.slug == slug) & (User.role == Role.SELLER.value)).first()
    if user is None or user.suspended or not user.active:
        raise NotFound("Seller not found.")
    return user


def _disputes_table() -> Any:
    """The disputes domain's table, if that domain is installed (imported lazily)."""
    try:
        from trustdesk.disputes.tables import Dispute
    except ImportError:
        return None
    return Dispute


async def _dispute_rows(seller_id: int) -> list[dict[str, Any]]:
    table = _disputes_table()
    if table is None:
        return []
    try:
        return await table.select().where(table.seller == seller_id)
    except Exception:  # noqa: BLE001 - table not migrated yet: no dispute record to show
        return []


def _lost(dispute: dict[str, Any]) -> bool:
    return dispute.get("ruled_for") == "buyer" or bool(dispute.get("mandated_refund"))


async def load_facts(seller_id: int) -> tuple[scoring.Facts, dict[str, Any]]:
    """The scoring facts for one seller plus raw extras the seller page shows."""
    orders = await Order.select(
        Order.id, Order.state, Order.closed_at, Order.ship_by, Order.shipped_at,
        Order.cancel_reason, Order.funded_at,
    ).where(Order.seller == seller_id)
    ratings = await Rating.select(
        Rating.id, Rating.order, Rating.stars, Rating.created_at, Rating.hidden_for_fraud,
    ).where(Rating.seller == seller_id)
    disputes = await _dispute_rows(seller_id)
    lost_orders = {d.get("order") for d in disputes if d.get("ruled_for") == "buyer"}
    mandated_orders = {d.get("order") for d in disputes if d.get("mandated_refund")}
    order_facts = tuple(
        scoring.OrderFact(
            order_id=o["id"], closed_at=aware(o["closed_at"]),
            completed=o["state"] in COMPLETED_VALUES,
            cancelled_not_shipped=(o["state"] == OrderState.CANCELLED.value
                                   and o["cancel_reason"] == NOT_SHIPPED_REASON),
            dispute_lost=o["id"] in lost_orders, mandated_refund=o["id"] in mandated_orders,
            ship_by=aware(o["ship_by"]), shipped_at=aware(o["shipped_at"]),
        ) for o in orders)
    rating_facts = tuple(
        scoring.RatingFact(stars=r["stars"], at=aware(r["created_at"]), order_id=r["order"],  # type: ignore[arg-type]
                           fraud=bool(r["hidden_for_fraud"])) for r in ratings)
    dispute_facts = tuple(
        scoring.DisputeFact(opened_at=aware(d["opened_at"]),  # type: ignore[arg-type]
                            responded_at=aware(d.get("seller_responded_at")))
        for d in disputes if d.get("opened_at") is not None)
    extras = {"disputes": disputes, "ratings": ratings, "lost_orders": lost_orders | mandated_orders}
    return scoring.Facts(ratings=rating_facts, orders=order_facts, disputes=dispute_facts), extras


def dispute_record(disputes: list[dict[str, Any]], median_hours: float | None) -> dict[str, Any]:
    return {
        "opened": len(disputes),
        "agreement": sum(1 for d in disputes if d.get("resolution") == "agreement"),
        "ruled_buyer": sum(1 for d in disputes if d.get("ruled_for") == "buyer"),
        "ruled_seller": sum(1 for d in disputes if d.get("ruled_for") == "seller"),
        "mandated": sum(1 for d in disputes if d.get("mandated_refund")),
        "median_answer_hours": median_hours,
    }


async def seller_score(seller_id: int) -> scoring.TrustScore:
    facts, _ = await load_facts(seller_id)
    return scoring.compute(facts, now())


async def list_verified_domains(seller_id: int) -> list[str]:
    rows = await SellerDomain.select(SellerDomain.domain).where(
        (SellerDomain.seller == seller_id) & SellerDomain.verified_at.is_not_null()
    ).order_by(SellerDomain.domain)
    return [r["domain"] for r in rows]


async def seller_profile(slug: str, *, recent: int = 20) -> dict[str, Any]:
    """Everything the public seller page shows; NotFound for unknown or suspended sellers."""
    seller = await get_seller_by_slug(slug)
    facts, extras = await load_facts(seller.id)
    at = now()
    score = scoring.compute(facts, at)
    visible = await Rating.select().where(
        (Rating.seller == seller.id) & (Rating.hidden == False)  # noqa: E712
    ).order_by(Rating.created_at, ascending=False).limit(recent)
    hidden_count = await Rating.count().where((Rating.seller == seller.id) & (Rating.hidden == True))  # noqa: E712
    for r in visible:
        r["created_at"] = aware(r["created_at"])
        r["replied_at"] = aware(r["replied_at"])
        r["edited_at"] = aware(r["edited_at"])
        r["tag_labels"] = tag_labels(r["tags"])
        r["dispute_lost"] = r["order"] in extras["lost_orders"]
    counted = [r["stars"] for r in extras["ratings"] if not r["hidden_for_fraud"]]
    return {
        "seller": seller, "score": score, "history": scoring.history(facts, at),
        "distribution": scoring.star_distribution(counted), "ratings": visible,
        "hidden_count": hidden_count,
        "disputes": dispute_record(extras["disputes"], score.response_median_hours),
        "domains": await list_verified_domains(seller.id),
        "member_since": aware(seller.created_at),
    }


async def list_seller_ratings(seller_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = await Rating.select().where(Rating.seller == seller_id).order_by(
        Rating.created_at, ascending=False).limit(limit)
    for r in rows:
        r["created_at"] = aware(r["created_at"])
        r["tag_labels"] = tag_labels(r["tags"])
    return rows


# -- seller domains ----------------------------------------------------------------------------

async def list_domains(seller_id: int) -> list[dict[str, Any]]:
    rows = await SellerDomain.select().where(SellerDomain.seller == seller_id).order_by(
        SellerDomain.created_at)
    for r in rows:
        r["verified_at"] = aware(r["verified_at"])
        r["url"] = dom.verification_url(r["domain"])
        r["line"] = dom.token_line(r["token"])
    return rows


def _seller_actor_check(actor: Actor, seller_id: int) -> None:
    if actor.user_id != seller_id:
        raise NotFound("Domain not found.")


async def add_domain(seller_id: int, domain: str, *, actor: Actor) -> SellerDomain:
    """Register a domain for the badge (unverified until its token is found)."""
    try:
        value = dom.normalise_domain(domain, allow_local=not get_settings().is_production)
    except dom.DomainError as exc:
        raise ValidationFailed(str(exc), field="domain") from exc
    async with write_transaction():
        seller = await User.select(User.role).where(User.id == seller_id).first()
        if not seller or seller["role"] != Role.SELLER.value:
            raise NotAllowed("Only sellers can register domains.")
        existing = await SellerDomain.select(SellerDomain.domain).where(SellerDomain.seller == seller_id)
        if any(r["domain"] == value for r in existing):
            raise ValidationFailed(f"{value} is already on your list.", field="domain")
        if len(existing) >= MAX_DOMAINS:
            raise ValidationFailed(f"You can register up to {MAX_DOMAINS} domains.", field="domain")
        row = SellerDomain(seller=seller_id, domain=value, token=secrets.token_urlsafe(18),
                           created_at=now())
        await row.save()
        await audit.record("ratings:domain:added", subject_type="seller_domain",
                           subject_id=row.id, actor=actor, data={"domain": value})
    return row


async def _load_domain(domain_id: int, seller_id: int) -> SellerDomain:
    row = await load_for_update(SellerDomain, domain_id)
    if row is None or row.seller != seller_id:
        raise NotFound("Domain not found.")
    return row  # type: ignore[return-value]


async def verify_domain(domain_id: int, *, actor: Actor, fetch: dom.Fetcher | None = None) -> SellerDomain:
    """Fetch https://<domain>/.well-known/trustdesk.txt; verified if it holds the token line."""
    fetch = fetch or dom.http_fetch
    row = await SellerDomain.objects().where(SellerDomain.id == domain_id).first()
    if row is None or row.seller != actor.user_id:
        raise NotFound("Domain not found.")
    url = dom.verification_url(row.domain)
    error = ""
    try:
        body = await fetch(url)
        if not dom.body_has_token(body, row.token):
            error = f"{url} does not contain the line {dom.token_line(row.token)}"
    except Exception as exc:  # noqa: BLE001 - any network failure is reported, not raised
        error = f"Could not fetch {url}: {str(exc)[:200] or exc.__class__.__name__}"
    async with write_transaction():
        row = await _load_domain(domain_id, actor.user_id)  # type: ignore[arg-type]
        stamp = now()
        if error:
            await SellerDomain.update({SellerDomain.last_checked_at: stamp,
                                       SellerDomain.last_error: error[:300]}).where(
                SellerDomain.id == row.id)
            await audit.record("ratings:domain:check-failed", subject_type="seller_domain",
                               subject_id=row.id, actor=actor, data={"error": error[:300]})
        else:
            await _mark_verified(row, "fetch", actor)
    if error:
        raise ValidationFailed(error, field="domain")
    return row


async def _mark_verified(row: SellerDomain, how: str, actor: Actor) -> None:
    stamp = now()
    await SellerDomain.update({SellerDomain.verified_at: stamp, SellerDomain.verified_how: how,
                               SellerDomain.last_checked_at: stamp, SellerDomain.last_error: ""}
                              ).where(SellerDomain.id == row.id)
    row.verified_at = stamp
    await audit.record("ratings:domain:verified", subject_type="seller_domain", subject_id=row.id,
                       actor=actor, data={"domain": row.domain, "how": how})
    await bump_seller_record(row.seller)


async def mark_domain_verified(domain_id: int, *, actor: Actor) -> SellerDomain:
    """Development only: skip the fetch (there is no public URL on a laptop)."""
    if get_settings().env != "development":
        raise NotAllowed("Domains can only be marked verified by hand in development.")
    async with write_transaction():
        row = await _load_domain(domain_id, actor.user_id)  # type: ignore[arg-type]
        await _mark_verified(row, "development", actor)
    return row


async def remove_domain(domain_id: int, *, actor: Actor) -> None:
    async with write_transaction():
        row = await _load_domain(domain_id, actor.user_id)  # type: ignore[arg-type]
        await SellerDomain.delete().where(SellerDomain.id == row.id)
        await audit.record("ratings:domain:removed", subject_type="seller_domain",
                           subject_id=row.id, actor=actor, data={"domain": row.domain})
        await bump_seller_record(row.seller)


_UNUSED = (Conflict,)


async def rateable_orders(order_ids: list[int], buyer_id: int) -> list[int]:
    """Which of these orders the buyer may still rate (completed, unrated, window open)."""
    if not order_ids:
        return []
    rows = await Order.select(Order.id, Order.closed_at).where(
        Order.id.is_in(order_ids) & (Order.buyer == buyer_id)
        & Order.state.is_in(list(COMPLETED_VALUES)))
    if not rows:
        return []
    rated = {r["order"] for r in await Rating.select(Rating.order).where(
        Rating.order.is_in([r["id"] for r in rows]))}
    cutoff = now() - get_settings().rating_window
    return [r["id"] for r in rows
            if r["id"] not in rated and r["closed_at"] is not None and aware(r["closed_at"]) > cutoff]
