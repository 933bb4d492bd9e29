"""Partner routes: the /api/v1 routers, and the sellers' API keys and webhooks section of
/account/integrations (web forms with CSRF). Thin: parse, one service call, respond."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from trustdesk.accounts.guards import requires_seller
from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import DomainError
from trustdesk.core.extensions import INTEGRATIONS_PAGE, INTEGRATIONS_PARTIALS, register_partial
from trustdesk.core.outbox import EVENT_TYPES
from trustdesk.core.web import back, current_user, flash, page
from trustdesk.partners import services
from trustdesk.partners.api import build_routers

PARTIAL = "partners/_integrations.html"
OWN_PAGE = "/account/integrations/api"


async def integrations_context(user: dict[str, Any]) -> dict[str, Any]:
    """Context for the partial: the seller's keys, endpoints and latest deliveries."""
    if not user or user.get("role") != Role.SELLER.value:
        return {}
    return {
        "api_keys": await services.list_api_keys(user["id"]),
        "webhook_endpoints": await services.list_webhook_endpoints(user["id"]),
        "webhook_deliveries": await services.list_deliveries(user["id"], limit=25),
        "webhook_event_types": list(EVENT_TYPES),
    }


if integrations_context not in INTEGRATIONS_PAGE:
    INTEGRATIONS_PAGE.append(integrations_context)
register_partial(INTEGRATIONS_PARTIALS, PARTIAL)


def _actor(request: Request) -> Actor:
    return Actor(Role.SELLER, current_user(request)["id"], "web")  # type: ignore[index]


def _back(request: Request) -> Redirect:
    return back(request, default=OWN_PAGE)


class PartnerIntegrationsController(Controller):
    path = "/account/integrations"
    guards = [requires_seller]
    include_in_schema = False

    @get("/api")
    async def api_page(self, request: Request) -> Template:
        """API keys and webhooks on their own page (the integrations page embeds the same partial)."""
        user = current_user(request)
        return page("partners/integrations.html", **await integrations_context(user))  # type: ignore[arg-type]

    @post("/keys")
    async def create_key(self, request: Request) -> Response:
        form = await request.form()
        try:
            row, raw = await services.create_api_key(current_user(request)["id"],  # type: ignore[index]
                                                     name=str(form.get("name", "")),
                                                     actor=_actor(request))
        except DomainError as exc:
            flash(request, exc.message, "error")
            return _back(request)
        return page("partners/secret_shown.html", status=201, kind="key", name=row.name,
                    secret=raw, back_to=_back(request).url)

    @post("/keys/{key_id:int}/revoke")
    async def revoke_key(self, request: Request, key_id: FromPath[int]) -> Redirect:
        row = await services.revoke_api_key(key_id, seller_id=current_user(request)["id"],  # type: ignore[index]
                                            actor=_actor(request))
        flash(request, f"Key “{row.name}” ({row.prefix}…) is revoked. Requests with it now fail.")
        return _back(request)

    @post("/webhooks")
    async def create_webhook(self, request: Request) -> Response:
        form = await request.form()
        events = [str(e) for e in form.getall("events")] if hasattr(form, "getall") else []
        try:
            row, secret = await services.create_webhook_endpoint(
                current_user(request)["id"], url=str(form.get("url", "")), events=events,  # type: ignore[index]
                description=str(form.get("description", "")), actor=_actor(request))
        except DomainError as exc:
            flash(request, exc.message, "error")
            return _back(request)
        return page("partners/secret_shown.html", status=201, kind="webhook", name=row.url,
                    secret=secret, back_to=_back(request).url)

    @post("/webhooks/{endpoint_id:int}/delete")
    async def delete_webhook(self, request: Request, endpoint_id: FromPath[int]) -> Redirect:
        await services.delete_webhook_endpoint(endpoint_id, seller_id=current_user(request)["id"],  # type: ignore[index]
                                               actor=_actor(request))
        flash(request, "Webhook endpoint removed. Nothing more is sent to it.")
        return _back(request)

    @post("/webhooks/{endpoint_id:int}/enable")
    async def enable_webhook(self, request: Request, endpoint_id: FromPath[int]) -> Redirect:
        await services.enable_webhook_endpoint(endpoint_id, seller_id=current_user(request)["id"],  # type: ignore[index]
                                               actor=_actor(request))
        flash(request, "Webhook endpoint turned back on.")
        return _back(request)

    @post("/webhooks/deliveries/{delivery_id:int}/resend")
    async def resend(self, request: Request, delivery_id: FromPath[int]) -> Redirect:
        await services.resend_delivery(delivery_id, seller_id=current_user(request)["id"],  # type: ignore[index]
                                       actor=_actor(request))
        flash(request, "Sending it again now. Reload in a moment to see the result.")
        return _back(request)


ROUTES: list[Any] = [*build_routers(), PartnerIntegrationsController]
