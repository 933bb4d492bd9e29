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


def api_only(schema: dict[str, Any]) -> dict[str, Any]:
    """The documented API: the /api/ operations only (the site's HTML pages are not an API)."""
    paths = {p: item for p, item in (schema.get("paths") or {}).items() if p.startswith("/api/")}
    return {**schema, "paths": paths}


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
