"""What /schema needs from the partner API: the bearer security scheme and Swagger UI served from
/static/vendor (at /schema and /schema/swagger; no CDN), plus the JSON at /schema/openapi.json —
both list the /api/ operations only.

(ReDoc is not offered: its bundle fetches its logo from cdn.redoc.ly.)"""

from __future__ import annotations

from typing import Any

from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

SWAGGER = "/static/vendor/swagger-ui-5.35.0"
FAVICON = "<link rel='icon' type='image/svg+xml' href='/static/img/logo.svg'>"


GUIDE = """

## Authentication
Create a key on **/account/integrations** (or `trustdesk create-api-key --seller SLUG`) and send
it as `Authorization: Bearer td_key_…`. A key acts as its store and sees only that store's orders,
disputes and events; anything else is `404`. Keys are shown once and can be revoked.
Each key may make `120` requests a minute; past that you get `429` with `Retry-After`.

## Errors
Always `{"error": {"code", "message", "field"?}}`: `401 unauthorized`, `404 not_found`,
`409 invalid_transition` (with `current_state`), `422 validation_error` (with `field`),
`422 idempotency_key_reused`, `429 rate_limited`.

## Idempotency
Send `Idempotency-Key: <unique string>` with every POST. Retrying with the same key and the same
body within 24 hours replays the first response (same status, same body, header
`Idempotent-Replayed: true`) and changes nothing, even if the copies arrive at the same time.
The same key with a different body is refused (`422 idempotency_key_reused`). A request refused
by validation is not remembered, so fix it and retry with the same key.

## Webhooks
Register an endpoint (`POST /api/v1/webhook-endpoints`) and keep the `secret` it returns. Each
event is POSTed as JSON `{id, type, created_at, data}` with the header
`TrustDesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
Check it on the raw body and refuse timestamps older than 5 minutes (in Python:
`trustdesk.partners.verify_signature(secret, header, body, tolerance=300)`). Answer `2xx`
within 10 seconds; otherwise we retry with exponential backoff for up to 3 days (the same `id`,
so deduplicate on it). An endpoint failing for 3 days is turned off and the seller is told.
Event types: `order.created`, `order.funded`, `order.shipped`, `order.delivered`,
`order.released`, `order.cancelled`, `order.refunded`, `dispute.opened`, `dispute.updated`,
`dispute.escalated`, `dispute.resolved`, `rating.created`.

## Money and pagination
Amounts are integers in minor units (`450000` = Rs 4,500.00). Lists are newest first; pass
`next_cursor` as `cursor` for the next page.
"""


def api_only(schema: dict[str, Any]) -> dict[str, Any]:
    """The documented API: the /api/ operations only (the site's HTML pages are not an API),
    with the integration guide under the title."""
    paths = {p: item for p, item in (schema.get("paths") or {}).items() if p.startswith("/api/")}
    info = dict(schema.get("info") or {})
    from trustdesk.settings import get_settings

    guide = GUIDE.replace("`120`", f"`{get_settings().api_rate_limit}`")
    if "## Authentication" not in (info.get("description") or ""):
        info["description"] = (info.get("description") or "") + guide
    return {**schema, "paths": paths, "info": info}


class ApiSwagger(SwaggerRenderPlugin):
    def render(self, request: Any, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, api_only(openapi_schema))


class ApiJson(JsonRenderPlugin):
    def render(self, request: Any, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, api_only(openapi_schema))


def render_plugins() -> list[Any]:
    return [
        ApiSwagger(js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                            css_url=f"{SWAGGER}/swagger-ui.css",
                            standalone_preset_js_url=f"{SWAGGER}/swagger-ui-standalone-preset.js",
                            path="/swagger", favicon=FAVICON),
        ApiJson(),
    ]


def components() -> Components:
    return Components(security_schemes={
        "BearerAuth": SecurityScheme(
            type="http", scheme="bearer", bearer_format="td_key_…",
            description="An API key from /account/integrations or "
                        "`trustdesk create-api-key --seller SLUG`."),
    })
