"""Serving badges from memory, kept true by a per-seller version number in the database.

Warm path: no database query at all. Each process keeps
  * slug -> (seller id, record version, store name), looked up with one indexed query and kept
    for SLUG_TTL seconds (a safety net for changes outside the record, e.g. a suspension);
  * (seller, style, lang, verified, format) -> rendered bytes + ETag;
and once per SYNC_INTERVAL (1 s) asks the database one indexed question for the whole process:
"which sellers' record versions changed since I last looked?" (td_seller_record.updated_at).
Sellers whose version moved are dropped and re-rendered on their next request. A change
anywhere bumps the version (services.bump_seller_record), so several web processes agree
within about a second; the process that made the change forgets at once (after commit).

The same poll reads new outbox events (by primary key) that change a seller's record without
going through this domain (orders closing or cancelled, disputes resolved), so badges stay true
even where another domain does not call bump_seller_record. A built badge also expires after
MAX_AGE, because the 90-day defect window moves with time even when nothing happens.

Trade-off: a per-request version read would make every change visible instantly, at the cost
of a database round trip per badge (the dominant cost under load). One poll per second per
process costs nothing per request and bounds staleness at ~1 s, far below the max-age=300 that
browsers and CDNs may cache a badge anyway. All caches are bounded LRUs, so requests for random
slugs cannot grow memory without limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from trustdesk.ratings import badge as render
from trustdesk.ratings import domains as dom

K = TypeVar("K")
V = TypeVar("V")

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SLUG_TTL = float(os.environ.get("TRUSTDESK_BADGE_SLUG_TTL", "30"))
SYNC_INTERVAL = float(os.environ.get("TRUSTDESK_BADGE_SYNC_INTERVAL", "1.0"))
SYNC_OVERLAP = timedelta(seconds=10)  # re-read recent changes: covers slow commits, clock skew
MAX_AGE = 300.0  # seconds a built badge may live without any change (the windows move)
EVENT_OVERLAP = 500  # re-read this many outbox ids back: ids commit out of order
RECORD_EVENTS = ("order.released", "order.cancelled", "order.refunded", "order.shipped",
                 "dispute.opened", "dispute.updated", "dispute.resolved", "dispute.escalated",
                 "rating.created")
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=600"
MEDIA = {"svg": "image/svg+xml; charset=utf-8", "js": "application/javascript; charset=utf-8"}


class LRU(Generic[K, V]):
    """A small bounded LRU (OrderedDict); not thread-safe, used from one event loop."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.maxsize:
            self.data.popitem(last=False)

    def pop(self, key: K) -> None:
        self.data.pop(key, None)

    def __len__(self) -> int:
        return len(self.data)

    def clear(self) -> None:
        self.data.clear()


@dataclass(frozen=True, slots=True)
class SellerRef:
    seller_id: int
    slug: str
    stamp: tuple[int, str]  # (record version, store name): anything that changes the image


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    etag: str
    media_type: str


@dataclass(frozen=True, slots=True, eq=False)
class SellerBadge:
    stamp: tuple[int, str]
    data: render.BadgeData
    domains: frozenset[str]
    built_at: float = 0.0


_MISSING = object()


class BadgeServer:
    def __init__(self, ttl: float = SLUG_TTL, interval: float = SYNC_INTERVAL,
                 max_sellers: int = 4096, max_unknown: int = 1024, max_rendered: int = 8192) -> None:
        self.ttl = ttl
        self.interval = interval
        self._last_sync = 0.0
        self._since: datetime | None = None
        self._syncing = False
        self._last_event_id: int | None = None
        self._seen_events: LRU[int, bool] = LRU(4 * EVENT_OVERLAP)
        self.db_syncs = 0
        self.lookups: LRU[str, tuple[float, SellerRef]] = LRU(max_sellers)
        self.unknown: LRU[str, float] = LRU(max_unknown)  # separate: floods cannot evict sellers
        self.sellers: LRU[int, SellerBadge] = LRU(max_sellers)
        self.slug_of: LRU[int, str] = LRU(max_sellers)
        self.rendered: LRU[tuple[Any, ...], tuple[SellerBadge | None, Rendered]] = LRU(max_rendered)
        self._inflight: dict[int, asyncio.Future[SellerBadge]] = {}
        self.db_lookups = 0  # counters for tests and the benchmark
        self.renders = 0

    # -- invalidation ------------------------------------------------------------------------
    def invalidate(self, seller_id: int) -> None:
        """Forget a seller here at once (other processes notice the version within ttl)."""
        self.sellers.pop(seller_id)
        slug = self.slug_of.get(seller_id)
        if slug is not None:
            self.lookups.pop(slug)

    async def sync(self) -> None:
        """At most once per interval: drop sellers whose record version changed elsewhere."""
        clock = time.monotonic()
        if clock - self._last_sync < self.interval or self._syncing:
            return
        self._syncing = True
        try:
            from trustdesk.core.clock import now
            from trustdesk.ratings.tables import SellerRecord

            started = now()
            if self._since is not None:
                self.db_syncs += 1
                rows = await SellerRecord.select(SellerRecord.seller_id, SellerRecord.version).where(
                    SellerRecord.updated_at >= self._since - SYNC_OVERLAP)
                for row in rows:
                    cached = self.sellers.get(row["seller_id"])
                    if cached is not None and cached.stamp[0] != row["version"]:
                        self.invalidate(row["seller_id"])
                    else:
                        self._drop_stale_lookup(row["seller_id"], row["version"])
            await self._sync_events()
            self._since = started
            self._last_sync = clock
        finally:
            self._syncing = False

    async def _sync_events(self) -> None:
        """Sellers named by new outbox events (order closed, dispute resolved …) are dropped."""
        from trustdesk.core.tables import OutboxEvent

        if self._last_event_id is None:  # start: everything before now is already reflected
            last = await OutboxEvent.select(OutboxEvent.id).order_by(
                OutboxEvent.id, ascending=False).first()
            self._last_event_id = last["id"] if last else 0
            for row in await OutboxEvent.select(OutboxEvent.id).where(
                    OutboxEvent.id > self._last_event_id - EVENT_OVERLAP):
                self._seen_events.put(row["id"], True)
            return
        rows = await OutboxEvent.select(OutboxEvent.id, OutboxEvent.seller_id).where(
            (OutboxEvent.id > self._last_event_id - EVENT_OVERLAP)
            & OutboxEvent.event_type.is_in(list(RECORD_EVENTS))).order_by(OutboxEvent.id)
        for row in rows:
            if self._seen_events.get(row["id"]):
                continue
            self._seen_events.put(row["id"], True)
            if row["seller_id"] is not None:
                self.invalidate(row["seller_id"])
            self._last_event_id = max(self._last_event_id, row["id"])

    def _drop_stale_lookup(self, seller_id: int, version: int) -> None:
        slug = self.slug_of.get(seller_id)
        hit = self.lookups.data.get(slug) if slug is not None else None
        if hit is not None and hit[1].stamp[0] != version:
            self.lookups.pop(slug)  # type: ignore[arg-type]

    def clear(self) -> None:
        self._since = None
        self._last_sync = 0.0
        self._last_event_id = None
        self._seen_events.clear()
        self.slug_of.clear()
        self.lookups.clear()
        self.unknown.clear()
        self.sellers.clear()
        self.rendered.clear()

    # -- lookups -----------------------------------------------------------------------------
    async def lookup(self, slug: str) -> SellerRef | None:
        if not SLUG_RE.match(slug):
            return None
        clock = time.monotonic()
        hit = self.lookups.get(slug)
        if hit is not None and clock - hit[0] < self.ttl:
            return hit[1]
        miss = self.unknown.get(slug)
        if miss is not None and clock - miss < self.ttl:
            return None
        ref = await self._query(slug)
        if ref is None:
            self.lookups.pop(slug)
            self.unknown.put(slug, clock)
        else:
            self.unknown.pop(slug)
            self.lookups.put(slug, (clock, ref))
            self.slug_of.put(ref.seller_id, slug)
        return ref

    async def _query(self, slug: str) -> SellerRef | None:
        from trustdesk.accounts.tables import User

        self.db_lookups += 1
        rows = await User.raw(
            "SELECT u.id, u.store_name, u.suspended, u.active, u.role, r.version "
            "FROM td_user u LEFT JOIN td_seller_record r ON r.seller_id = u.id "
            "WHERE u.slug = {}", slug)
        if not rows:
            return None
        row = rows[0]
        if row["role"] != "seller" or row["suspended"] or not row["active"]:
            return None
        return SellerRef(row["id"], slug, (int(row["version"] or 0), row["store_name"] or ""))

    async def seller_badge(self, ref: SellerRef) -> SellerBadge:
        cached = self.sellers.get(ref.seller_id)
        if cached is not None and cached.stamp == ref.stamp \
                and time.monotonic() - cached.built_at < MAX_AGE:
            return cached
        flight = self._inflight.get(ref.seller_id)
        if flight is not None:  # one rebuild per seller at a time (no thundering herd)
            return await asyncio.shield(flight)
        future: asyncio.Future[SellerBadge] = asyncio.get_running_loop().create_future()
        self._inflight[ref.seller_id] = future
        try:
            built = await self._build(ref)
            self.sellers.put(ref.seller_id, built)
            future.set_result(built)
            return built
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        finally:
            self._inflight.pop(ref.seller_id, None)

    async def _build(self, ref: SellerRef) -> SellerBadge:
        from trustdesk.ratings import services

        score = await services.seller_score(ref.seller_id)
        domains = await services.list_verified_domains(ref.seller_id)
        data = render.BadgeData(store_name=ref.stamp[1], score=score.score, level=score.level.value,
                                completed_orders=score.completed_orders,
                                rating_count=score.rating_count)
        return SellerBadge(ref.stamp, data, frozenset(domains), time.monotonic())

    # -- the badge ---------------------------------------------------------------------------
    async def get(self, slug: str, *, fmt: str, style: str | None, lang: str | None,
                  origin: str | None, own_hosts: tuple[str, ...], base_url: str) -> Rendered:
        style, lang = render.normalise_style(style), render.normalise_lang(lang)
        await self.sync()
        ref = await self.lookup(slug)
        if ref is None:
            return self._render(None, None, style, lang, False, fmt, slug, base_url)
        seller = await self.seller_badge(ref)
        verified = bool(origin) and (origin in own_hosts or dom.matches(origin, seller.domains))
        return self._render(ref, seller, style, lang, verified, fmt, slug, base_url)

    def _render(self, ref: SellerRef | None, seller: SellerBadge | None, style: str, lang: str,
                verified: bool, fmt: str, slug: str, base_url: str) -> Rendered:
        # unknown slugs all share one key per (style, lang, format): nothing grows with them
        key = (ref.seller_id if ref else None, style, lang, verified, fmt)
        hit = self.rendered.get(key)
        if hit is not None and hit[0] is seller:  # rendered from this very build of the seller
            return hit[1]
        self.renders += 1
        svg = render.render_svg(seller.data if seller else None, style=style, lang=lang,
                                verified=verified)
        if fmt == "js":
            texts = render.TEXT[lang]
            if ref is None:
                link, title, js_slug = base_url + "/how-trust-works", texts["unknown"], "unknown"
            else:
                link, title, js_slug = f"{base_url}/sellers/{ref.slug}", texts["see"], ref.slug
            body = render.render_js(svg, link=link, title=title, slug=js_slug)
        else:
            body = svg
        raw = body.encode()
        etag = '"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"'
        rendered = Rendered(raw, etag, MEDIA[fmt])
        self.rendered.put(key, (seller, rendered))
        return rendered


SERVER = BadgeServer()


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def invalidate_after_commit(seller_id: int) -> None:
    SERVER.invalidate(seller_id)


_UNUSED = (_MISSING,)
