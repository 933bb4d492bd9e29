"""What /schema needs from the partner API: the bearer security scheme and UIs served from
/static/vendor (Swagger UI at /schema and /schema/swagger, ReDoc at /schema/redoc; no CDN)."""

from __future__ import annotations

from typing import Any

from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

SWAGGER = "/static/vendor/swagger-ui-5.35.0"
REDOC = "/static/vendor/redoc-2.5.4"
FAVICON = "<link rel='icon' type='image/svg+xml' href='/static/img/logo.svg'>"


def render_plugins() -> list[Any]:
    return [
        SwaggerRenderPlugin(js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                            css_url=f"{SWAGGER}/swagger-ui.css",
                            standalone_preset_js_url=f"{SWAGGER}/swagger-ui-standalone-preset.js",
                            path="/swagger", favicon=FAVICON),
        RedocRenderPlugin(js_url=f"{REDOC}/redoc.standalone.js", google_fonts=False, path="/redoc",
                          favicon=FAVICON),
        JsonRenderPlugin(),
    ]


def components() -> Components:
    return Components(security_schemes={
        "BearerAuth": SecurityScheme(
            type="http", scheme="bearer", bearer_format="td_key_…",
            description="An API key from /account/integrations or "
                        "`trustdesk create-api-key --seller SLUG`."),
    })
