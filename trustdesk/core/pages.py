"""Site-wide pages: home and health."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.response import Template

from trustdesk.core.web import page


@get("/", sync_to_thread=False)
def home(request: Request) -> Template:
    return page("home.html")


@get("/healthz")
async def healthz() -> Response:
    from trustdesk.core.health import check

    report = await check()
    return Response(content=report, status_code=200 if report["ok"] else 503,
                    media_type="application/json")


ROUTES = [home, healthz]
