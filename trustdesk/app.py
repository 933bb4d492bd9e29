"""create_app(settings) -> Litestar: wiring only."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from litestar import Litestar, asgi
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import Receive, Scope, Send

from trustdesk.core.errors import DomainError
from trustdesk.core.templating import build_environment
from trustdesk.core.web import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SiteMiddleware,
    domain_error_handler,
    http_error_handler,
    server_error_handler,
)
from trustdesk.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("trustdesk")

ROUTE_MODULES = (
    "trustdesk.core.pages",
    "trustdesk.accounts.controllers",
    "trustdesk.escrow.controllers",
    "trustdesk.disputes.controllers",
    "trustdesk.ratings.controllers",
    "trustdesk.partners.controllers",
    "trustdesk.core.notifications",
)

# Routes that do not use the site's CSRF cookie: the admin (its own CSRF), the bearer-key API,
# and signed server-to-server callbacks.
CSRF_EXEMPT = ["^/admin", "^/api/", "^/sandbox-pay/callback", "^/badge/"]


def _routes() -> list[Any]:
    routes: list[Any] = []
    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        routes.extend(getattr(module, "ROUTES", []))
        if hasattr(module, "Controller") and not getattr(module, "ROUTES", None):
            pass
    return routes


def create_app(settings: Settings | None = None, *, with_worker: bool | None = None) -> Litestar:
    settings = settings or get_settings()
    from trustdesk import worker as jobs
    from trustdesk.admin import build_admin
    from trustdesk.db import close_pool, start_pool

    jobs.import_tasks()
    admin_app = build_admin(production=settings.is_production)

    @asgi("/admin", is_mount=True, copy_scope=True)
    async def admin(scope: Scope, receive: Receive, send: Send) -> None:
        await admin_app(scope, receive, send)

    in_process = jobs.InProcessWorker(threads=settings.worker_threads)
    start_worker = jobs.is_stub() if with_worker is None else with_worker

    async def on_startup() -> None:
        await start_pool()
        if start_worker:
            in_process.start()
            scheduler = getattr(importlib.import_module("trustdesk.core.tasks"), "start_embedded_scheduler", None) \
                if _has_module("trustdesk.core.tasks") else None
            if scheduler:
                scheduler()

    async def on_shutdown() -> None:
        if start_worker:
            if _has_module("trustdesk.core.tasks"):
                stop = getattr(importlib.import_module("trustdesk.core.tasks"), "stop_embedded_scheduler", None)
                if stop:
                    stop()
            in_process.stop()
        await close_pool()

    env = build_environment(settings.locale)
    app = Litestar(
        route_handlers=[
            admin,
            create_static_files_router(path="/static", directories=[ROOT / "static"],
                                       include_in_schema=False),
            *_routes(),
        ],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(env)),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name=CSRF_COOKIE,
            header_name=CSRF_HEADER,
            cookie_secure=settings.is_production,
            cookie_httponly=False,
            exclude=CSRF_EXEMPT,
        ),
        exception_handlers={
            DomainError: domain_error_handler,
            HTTPException: http_error_handler,
            Exception: server_error_handler,
        },
        openapi_config=OpenAPIConfig(
            title="TrustDesk Partner API",
            version="1.0.0",
            description=(
                "Open and drive escrow orders from your store. Authenticate with "
                "`Authorization: Bearer <key>` (create keys on /account/integrations). "
                "Every POST accepts an `Idempotency-Key` header. Errors are "
                '`{"error": {"code", "message", "field"?}}`.'
            ),
            path="/schema",
            # partner API: UIs from /static/vendor (no CDN) and the bearer security scheme
            render_plugins=importlib.import_module("trustdesk.partners.openapi").render_plugins(),
            components=importlib.import_module("trustdesk.partners.openapi").components(),
        ),
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        request_max_body_size=64 * 1024 * 1024,
        debug=False,
    )
    # Outside Litestar's router so 404s and other routing errors get the user, flash messages
    # and security headers too.
    app.asgi_handler = SiteMiddleware(app.asgi_handler)
    app.state.settings = settings
    app.state.in_process_worker = in_process
    return app


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
