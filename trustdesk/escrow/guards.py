"""Who may reach escrow pages. Per-order access (buyer/seller/mediator, else 404) lives in
services.get_order_for; what each party may do now lives in states.available_actions."""

from __future__ import annotations

from trustdesk.accounts.guards import requires_login, requires_seller

__all__ = ["requires_login", "requires_seller", "can_pay"]


def can_pay(user: dict | None) -> bool:
    """Mediators never pay escrow links; buyers and sellers (buying from others) may."""
    return bool(user) and user["role"] != "mediator"  # type: ignore[index]
