"""Ratings pages: rate/edit/reply, the public seller page, /how-trust-works, the badge, integrations."""

from __future__ import annotations

import os
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from trustdesk.accounts.guards import requires_login, requires_seller
from trustdesk.core import extensions
from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import ValidationFailed
from trustdesk.core.web import CSP_OVERRIDES, FRAMEABLE_PREFIXES, current_user, flash, page
from trustdesk.ratings import services
from trustdesk.settings import get_settings


def _actor(request: Request) -> Actor:
    user = current_user(request)
    return Actor(Role(user["role"]), user["id"], "web")


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
    async def verify(self, request: Request, domain_id: int) -> Response:
        try:
            row = await services.verify_domain(domain_id, actor=_actor(request),
                                               fetch=_FETCHER_OVERRIDE)
        except ValidationFailed as exc:
            flash(request, exc.message, "error")
            return Redirect("/account/integrations", status_code=303)
        flash(request, f"{row.domain} is verified. Your badge shows your score there.")
        return Redirect("/account/integrations", status_code=303)

    @post("/domains/{domain_id:int}/mark-verified")
    async def mark_verified(self, request: Request, domain_id: int) -> Response:
        row = await services.mark_domain_verified(domain_id, actor=_actor(request))
        flash(request, f"{row.domain} marked verified (development only).")
        return Redirect("/account/integrations", status_code=303)

    @post("/domains/{domain_id:int}/remove")
    async def remove(self, request: Request, domain_id: int) -> Response:
        await services.remove_domain(domain_id, actor=_actor(request))
        flash(request, "Domain removed. The badge no longer shows your score there.")
        return Redirect("/account/integrations", status_code=303)


# Tests and the development server may swap the fetcher (None = real HTTPS fetch).
_FETCHER_OVERRIDE: Any = None

ROUTES: list[Any] = [IntegrationsController]
_UNUSED = (requires_login, CSP_OVERRIDES, FRAMEABLE_PREFIXES, os)
