"""Small registries that let one domain add to another domain's page without importing it.

A domain registers an async callable at import time of its controllers module; the page owner
calls every registered callable and merges the returned dicts into its template context.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# async fn(order, user_dict) -> dict merged into the order page context (escrow/order.html);
# templates add their partials via ORDER_PAGE_PARTIALS (rendered in order, with that context).
ORDER_PAGE: list[Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]] = []
ORDER_PAGE_PARTIALS: list[str] = []

# async fn(order_ids, user_dict) -> {order_id: {"todo": str, "link": str, "label": str}}
# used by /orders to show what the viewer must do next (disputes add their rows' to-dos).
ORDER_LIST_TODOS: list[Callable[[list[int], dict[str, Any]], Awaitable[dict[int, dict[str, str]]]]] = []

# async fn(user_dict) -> dict merged into /account/integrations context; partials likewise.
INTEGRATIONS_PAGE: list[Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = []
INTEGRATIONS_PARTIALS: list[str] = []


async def gather_context(fns: list[Callable[..., Awaitable[dict[str, Any]]]], *args: Any) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for fn in fns:
        context.update(await fn(*args))
    return context


def register_partial(registry: list[str], template: str) -> None:
    if template not in registry:
        registry.append(template)
