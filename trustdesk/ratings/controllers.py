"""Ratings pages: rate/edit/reply, the public seller page, /how-trust-works, the badge, integrations."""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.response.base import ASGIResponse

from trustdesk.accounts.guards import requires_login, requires_seller
from trustdesk.core import extensions
from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import NotFound, ValidationFailed
from trustdesk.core.web import CSP_OVERRIDES, FRAMEABLE_PREFIXES, current_user, flash, page
from trustdesk.escrow.states import COMPLETED
from trustdesk.ratings import badge_serving, chart, forms, scoring, services
from trustdesk.ratings.domains import origin_host
from trustdesk.settings import get_settings

log = logging.getLogger("trustdesk.ratings")

# The badge may be embedded anywhere (img, object, iframe); every other page keeps
# frame-ancestors 'none'. The badge itself needs no scripts, styles or fetches.
BADGE_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
             "frame-ancestors *; base-uri 'none'; form-action 'none'")
CSP_OVERRIDES.setdefault("/badge/", BADGE_CSP)
if "/badge/" not in FRAMEABLE_PREFIXES:
    FRAMEABLE_PREFIXES.append("/badge/")


def _actor(request: Request) -> Actor:
    user = current_user(request)
    return Actor(Role(user["role"]), user["id"], "web")


# -- the badge ---------------------------------------------------------------------------------

_COMMON = [
    (b"cache-control", badge_serving.CACHE_CONTROL.encode()),
    (b"vary", b"Origin, Referer"),
    (b"access-control-allow-origin", b"*"),
    (b"cross-origin-resource-policy", b"cross-origin"),
]


class RawResponse(ASGIResponse):
    """A response whose headers are already encoded: the warm badge path builds nothing."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.status_code = status
        self.raw_headers = headers
        self.body = body
        self.background = None
        self.is_head_response = False

    async def start_response(self, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": list(self.raw_headers)})

    async def send_body(self, send: Any, receive: Any) -> None:
        await send({"type": "http.response.body", "body": self.body, "more_body": False})

    async def after_response(self) -> None:
        return None


@lru_cache(maxsize=8)
def _public_host(public_url: str) -> str:
    return origin_host(public_url) or ""


@lru_cache(maxsize=2048)
def _origin(value: str | None) -> str | None:
    return origin_host(value)


_WANTED = {b"origin", b"referer", b"if-none-match", b"host"}


def _badge_headers(scope: Any) -> dict[bytes, str]:
    """The four request headers the badge needs, read straight from the ASGI scope."""
    found: dict[bytes, str] = {}
    for key, value in scope["headers"]:
        if key in _WANTED and key not in found:
            found[key] = value.decode("latin-1")
    return found


def _encoded(rendered: badge_serving.Rendered, cache: bool) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """(200 headers, 304 headers) for a rendering, kept on it so they are built once."""
    pair = rendered.__dict__.get("_encoded") if hasattr(rendered, "__dict__") else None
    if pair is not None and cache:
        return pair
    common = list(_COMMON) if cache else [(k, b"no-store" if k == b"cache-control" else v) for k, v in _COMMON]
    common.append((b"etag", rendered.etag.encode()))
    ok = [*common, (b"content-type", rendered.media_type.encode()),
          (b"content-length", str(len(rendered.body)).encode())]
    return ok, common


_ENCODED: dict[int, tuple[Any, tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]]] = {}


def _headers_for(rendered: badge_serving.Rendered) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    hit = _ENCODED.get(id(rendered))
    if hit is not None and hit[0] is rendered:
        return hit[1]
    if len(_ENCODED) > 4 * 8192:  # bounded like the render cache it mirrors
        _ENCODED.clear()
    pair = _encoded(rendered, True)
    _ENCODED[id(rendered)] = (rendered, pair)
    return pair


@get("/badge/{name:str}", include_in_schema=False)
async def badge(request: Request, name: FromPath[str]) -> ASGIResponse:
    """/badge/<slug>.svg and /badge/<slug>.js: from memory, 304 on a matching ETag, never 500."""
    slug, dot, ext = name.rpartition(".")
    if not dot or ext not in badge_serving.MEDIA:
        raise NotFoundException()
    headers = _badge_headers(request.scope)
    query = request.query_params
    origin = _origin(headers.get(b"origin")) or _origin(headers.get(b"referer"))
    public_url = get_settings().public_url
    own_hosts = (_public_host(public_url), headers.get(b"host", "").lower())
    try:
        rendered = await badge_serving.SERVER.get(
            slug.lower()[:100], fmt=ext, style=query.get("style"), lang=query.get("lang"),
            origin=origin, own_hosts=own_hosts, base_url=public_url)
        ok, not_modified = _headers_for(rendered)
    except Exception:  # noqa: BLE001 - a badge is never a 500: neutral, and not cached
        log.exception("badge failed for %s", name)
        rendered = badge_serving.BadgeServer(ttl=0)._render(
            None, None, query.get("style") or "full", query.get("lang") or "en", False, ext, slug,
            public_url)
        ok, not_modified = _encoded(rendered, False)
    if badge_serving.etag_matches(headers.get(b"if-none-match"), rendered.etag):
        return RawResponse(304, not_modified)
    return RawResponse(200, ok, rendered.body)


@get("/badge/_bench_hello", include_in_schema=False, sync_to_thread=False)
def bench_hello() -> Response:
    """A bare route for bench/badge.py to compare against (only with TRUSTDESK_BENCH_HELLO=1).

    It lives under /badge/ so it passes the same middleware as the badge (no CSRF cookie, no
    session lookup); the comparison then measures the badge's own work. Slugs never start
    with "_", so it cannot shadow a seller."""
    return Response(content=b"hello", media_type="text/plain")


# -- public pages --------------------------------------------------------------------------------

@get("/how-trust-works", sync_to_thread=False)
def how_trust_works() -> Template:
    return page("ratings/how_trust_works.html", s=scoring, tags=services.TAGS,
                rating_days=get_settings().rating_window.days,
                edit_days=get_settings().rating_edit_window.days)


def _qr_svg(url: str, scale: int = 4) -> str:
    import segno

    return segno.make(url, error="m").svg_inline(scale=scale, dark="#1d2521", light="#ffffff",
                                                  omitsize=False)


@get("/sellers/{slug:str}")
async def seller_page(slug: FromPath[str]) -> Template:
    profile = await services.seller_profile(slug.lower())
    url = f"{get_settings().public_url}/sellers/{profile['seller'].slug}"
    total = sum(profile["distribution"].values())
    return page("ratings/seller.html", **profile, url=url, total_ratings=total,
                chart_svg=chart.score_chart(profile["history"]), qr_svg=_qr_svg(url),
                labels=scoring.LEVEL_LABELS)


@get("/sellers/{slug:str}/qr.svg", include_in_schema=False)
async def seller_qr(slug: FromPath[str]) -> Response:
    seller = await services.get_seller_by_slug(slug.lower())
    url = f"{get_settings().public_url}/sellers/{seller.slug}"
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=4)
    return Response(content=buffer.getvalue(), media_type="image/svg+xml",
                    headers={"Content-Disposition": f'inline; filename="trustdesk-{seller.slug}.svg"',
                             "Cache-Control": "public, max-age=3600"})


# -- rating, editing, replying -------------------------------------------------------------------

class RatingController(Controller):
    path = "/ratings"
    guards = [requires_login]

    @post("/order/{order_id:int}")
    async def rate(self, request: Request, order_id: FromPath[int]) -> Response:
        data = forms.rating_form(await request.form())
        await services.rate_order(order_id, stars=data.stars, text=data.text, tags=data.tags,
                                  actor=_actor(request))
        flash(request, "Thank you. Your rating is published on the seller's page.")
        return Redirect(f"/orders/{order_id}", status_code=303)

    @post("/{rating_id:int}/edit")
    async def edit(self, request: Request, rating_id: FromPath[int]) -> Response:
        data = forms.rating_form(await request.form())
        rating = await services.edit_rating(rating_id, stars=data.stars, text=data.text,
                                            tags=data.tags, actor=_actor(request))
        flash(request, "Your rating is updated.")
        return Redirect(f"/orders/{rating.order}", status_code=303)

    @post("/{rating_id:int}/reply")
    async def reply(self, request: Request, rating_id: FromPath[int]) -> Response:
        form = await request.form()
        rating = await services.reply_to_rating(rating_id, text=form.get("reply", ""),
                                                actor=_actor(request))
        flash(request, "Your reply is published under the rating.")
        return Redirect(f"/orders/{rating.order}", status_code=303)


# -- the panel on the order page (escrow renders it) ---------------------------------------------

async def order_panel(order: Any, user: dict[str, Any] | None) -> dict[str, Any]:
    """Context for ratings/_order_panel.html: the form, the rating, the reply form."""
    if not user:
        return {}
    completed = order.state in {s.value for s in COMPLETED}
    rating = await services.get_rating_for_order(order.id)
    if not completed and rating is None:
        return {"ratings_panel": None}
    chance = services.rating_chance(order, user["id"], rating is not None)
    panel: dict[str, Any] = {
        "rating": rating, "chance": chance, "tags": services.TAGS,
        "is_buyer": user["id"] == order.buyer, "is_seller": user["id"] == order.seller,
        "max_text": services.MAX_TEXT,
    }
    if rating is not None:
        until = services.edit_until(rating)
        from trustdesk.core.clock import now

        panel["can_edit"] = panel["is_buyer"] and now() <= until and not rating.hidden
        panel["edit_until"] = until
        panel["can_reply"] = panel["is_seller"] and rating.replied_at is None
        panel["tag_labels"] = services.tag_labels(rating.tags)
        panel["tag_list"] = [t for t in rating.tags.split(",") if t]
    return {"ratings_panel": panel}


async def rating_todos(order_ids: list[int], user: dict[str, Any] | None) -> dict[int, dict[str, str]]:
    """On /orders: completed purchases the buyer can still rate get a "Rate the seller" to-do."""
    if not user or user.get("role") != Role.BUYER.value:
        return {}
    ids = await services.rateable_orders(order_ids, user["id"])
    return {i: {"todo": "Rate the seller", "link": f"/orders/{i}#rate-h"} for i in ids}


if order_panel not in extensions.ORDER_PAGE:
    extensions.ORDER_PAGE.append(order_panel)
if rating_todos not in extensions.ORDER_LIST_TODOS:
    extensions.ORDER_LIST_TODOS.append(rating_todos)
extensions.register_partial(extensions.ORDER_PAGE_PARTIALS, "ratings/_order_panel.html")


# -- /account/integrations ---------------------------------------------------------------------

def embed_snippets(slug: str, base: str) -> list[dict[str, str]]:
    seller_url = f"{base}/sellers/{slug}"
    return [
        {"label": "Widget (recommended)",
         "help": "Renders the badge where you paste it; works with any site builder that allows a script tag.",
         "code": f'<script src="{base}/badge/{slug}.js" async></script>'},
        {"label": "Image (no JavaScript)",
         "help": "For pages that do not allow scripts, emails and marketplaces.",
         "code": f'<a href="{seller_url}"><img src="{base}/badge/{slug}.svg" '
                 f'alt="TrustDesk trust badge" width="300" height="64"></a>'},
        {"label": "Compact image, Urdu label",
         "help": "A small badge for headers and footers; lang=en for English.",
         "code": f'<a href="{seller_url}"><img src="{base}/badge/{slug}.svg?style=compact&amp;lang=ur" '
                 f'alt="TrustDesk trust badge" width="190" height="28"></a>'.replace("&amp;", "&")},
    ]


class IntegrationsController(Controller):
    path = "/account/integrations"
    guards = [requires_seller]

    @get("/")
    async def show(self, request: Request) -> Template:
        return await self._page(request)

    async def _page(self, request: Request, status: int = 200, domain_errors: dict[str, str] | None = None,
                    domain_value: str = "") -> Template:
        user = current_user(request)
        base = get_settings().public_url
        context: dict[str, Any] = {
            "domains": await services.list_domains(user["id"]),
            "slug": user["slug"], "seller_url": f"{base}/sellers/{user['slug']}",
            "snippets": embed_snippets(user["slug"], base),
            "is_development": get_settings().env == "development",
            "domain_errors": domain_errors or {}, "domain_value": domain_value,
            "integrations_partials": list(extensions.INTEGRATIONS_PARTIALS),
        }
        extra = await extensions.gather_context(extensions.INTEGRATIONS_PAGE, user)
        for key, value in extra.items():
            context.setdefault(key, value)
        return page("ratings/integrations.html", status=status, **context)

    @post("/domains")
    async def add_domain(self, request: Request) -> Response:
        form = await request.form()
        value = str(form.get("domain", ""))[:300]
        try:
            row = await services.add_domain(current_user(request)["id"], value, actor=_actor(request))
        except ValidationFailed as exc:
            return await self._page(request, 422, {exc.field or "domain": exc.message}, value)
        flash(request, f"{row.domain} added. Serve the verification line, then press “Check now”.")
        return Redirect("/account/integrations", status_code=303)

    @post("/domains/{domain_id:int}/verify")
    async def verify(self, request: Request, domain_id: FromPath[int]) -> Response:
        try:
            row = await services.verify_domain(domain_id, actor=_actor(request),
                                               fetch=_FETCHER_OVERRIDE)
        except ValidationFailed as exc:
            flash(request, exc.message, "error")
            return Redirect("/account/integrations", status_code=303)
        flash(request, f"{row.domain} is verified. Your badge shows your score there.")
        return Redirect("/account/integrations", status_code=303)

    @post("/domains/{domain_id:int}/mark-verified")
    async def mark_verified(self, request: Request, domain_id: FromPath[int]) -> Response:
        row = await services.mark_domain_verified(domain_id, actor=_actor(request))
        flash(request, f"{row.domain} marked verified (development only).")
        return Redirect("/account/integrations", status_code=303)

    @post("/domains/{domain_id:int}/remove")
    async def remove(self, request: Request, domain_id: FromPath[int]) -> Response:
        await services.remove_domain(domain_id, actor=_actor(request))
        flash(request, "Domain removed. The badge no longer shows your score there.")
        return Redirect("/account/integrations", status_code=303)


# Tests and the development server may swap the fetcher (None = real HTTPS fetch).
_FETCHER_OVERRIDE: Any = None

ROUTES: list[Any] = [badge, how_trust_works, seller_page, seller_qr, RatingController,
                     IntegrationsController]
if os.environ.get("TRUSTDESK_BENCH_HELLO") == "1":
    ROUTES.append(bench_hello)
_UNUSED = (NotFound,)
