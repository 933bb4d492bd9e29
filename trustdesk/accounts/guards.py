"""Who may reach a page: signed-in users, and users of a given role."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler


def requires_login(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if not connection.scope.get("user"):
        raise NotAuthorizedException("Sign in to continue.")


def requires_seller(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    requires_login(connection, _)
    if connection.scope["user"]["role"] != "seller":
        raise PermissionDeniedException("Only sellers can do this.")


def requires_mediator(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    requires_login(connection, _)
    if connection.scope["user"]["role"] != "mediator":
        raise PermissionDeniedException("Only mediators can do this.")
