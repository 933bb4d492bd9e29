"""Escrow pages: make a link, pay a link, list and act on orders. Thin: parse, one service call, respond."""

from __future__ import annotations

from typing import Any

import segno
from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import ValidationFailed
from trustdesk.core.web import current_user, flash, page
from trustdesk.escrow import forms, services
from trustdesk.escrow.guards import requires_seller
from trustdesk.settings import get_settings


def _actor(request: Request, role: Role | None = None) -> Actor:
    user = current_user(request)
    return Actor(role or Role(user["role"]), user["id"], "web")


def public_base(request: Request) -> str:
    return (get_settings().base_url or str(request.base_url)).rstrip("/")


def pay_url(request: Request, token: str) -> str:
    return f"{public_base(request)}/pay/{token}"


def qr_data_uri(text: str) -> str:
    """A server-rendered QR code as an SVG data: URI (no JS, allowed by img-src data:)."""
    return segno.make(text, error="m").svg_data_uri(scale=4, border=2, dark="#1d2521")


class SellController(Controller):
    path = "/sell"
    guards = [requires_seller]

    @get("/new", sync_to_thread=False)
    def new_link_form(self) -> Template:
        return page("escrow/sell_new.html", form={"currency": "PKR", "inspection_days": "3"},
                    errors={})

    @post("/new")
    async def create_link(self, request: Request) -> Response:
        parsed = forms.parse_new_link(await request.form())
        if parsed.order is not None:
            try:
                order = await services.create_order(current_user(request)["id"], parsed.order,
                                                    actor=_actor(request, Role.SELLER))
            except ValidationFailed as exc:
                name = forms.SERVICE_FIELDS.get(exc.field or "", exc.field or "_")
                parsed.errors[name] = exc.message
            else:
                flash(request, "Your escrow link is ready. Share it with your buyer.")
                return Redirect(f"/orders/{order.id}/link", status_code=303)
        return page("escrow/sell_new.html", status=422, form=parsed.values, errors=parsed.errors)


class LinkController(Controller):
    path = "/orders/{order_id:int}/link"
    guards = [requires_seller]

    @get("/")
    async def link_page(self, request: Request, order_id: FromPath[int]) -> Template:
        order = await services.get_order_for(order_id, current_user(request))
        if order.seller != current_user(request)["id"]:
            return Redirect(f"/orders/{order.id}", status_code=303)  # type: ignore[return-value]
        url = pay_url(request, order.token)
        return page("escrow/link.html", order=order, url=url, qr=qr_data_uri(url),
                    total=services.total(order))


ROUTES: list[Any] = [SellController, LinkController]
