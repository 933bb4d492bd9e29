"""Register, sign in/out and account pages. Thin: parse, one service call, respond."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from trustdesk.accounts import services
from trustdesk.accounts.guards import requires_login
from trustdesk.core.errors import RateLimited, ValidationFailed
from trustdesk.core.web import (
    SESSION_COOKIE,
    client_ip,
    current_user,
    flash,
    page,
    safe_next,
    set_session_cookie,
)


def _errors(exc: ValidationFailed | RateLimited) -> dict[str, str]:
    return {(getattr(exc, "field", None) or "_"): exc.message}


class AccountController(Controller):
    path = "/"

    @get("/register", sync_to_thread=False)
    def register_page(self, request: Request, role: FromQuery[str] = "buyer", next: FromQuery[str] = "") -> Template:
        if current_user(request):
            return Redirect(safe_next(next, "/account"))  # type: ignore[return-value]
        return page("accounts/register.html", form={"role": role}, errors={}, next=next)

    @post("/register")
    async def register(self, request: Request, next: FromQuery[str] = "") -> Response:
        form: dict[str, Any] = dict(await request.form())
        try:
            await services.register_user(
                email=str(form.get("email", "")), password=str(form.get("password", "")),
                role=str(form.get("role", "")), display_name=str(form.get("display_name", "")),
                store_name=str(form.get("store_name", "")) if form.get("role") == "seller" else "",
            )
            signed = await services.sign_in(
                str(form.get("email", "")), str(form.get("password", "")), ip=client_ip(request.scope),
                user_agent=request.headers.get("user-agent", ""))
        except (ValidationFailed, RateLimited) as exc:
            form.pop("password", None)
            return page("accounts/register.html", status=422, form=form, errors=_errors(exc),
                        next=next)
        flash(request, f"Welcome to TrustDesk, {signed.user.display_name}. Your account is ready.")
        default = "/sell/new" if signed.user.role == "seller" else "/orders"
        return set_session_cookie(Redirect(safe_next(next, default), status_code=303), signed.token)

    @get("/login", sync_to_thread=False)
    def login_page(self, request: Request, next: FromQuery[str] = "") -> Response:
        if current_user(request):
            return Redirect(safe_next(next, "/account"))
        return page("accounts/login.html", errors={}, next=next)

    @post("/login")
    async def login(self, request: Request, next: FromQuery[str] = "") -> Response:
        form = await request.form()
        email = str(form.get("email", ""))
        try:
            signed = await services.sign_in(
                email, str(form.get("password", "")), ip=client_ip(request.scope),
                user_agent=request.headers.get("user-agent", ""),
                old_token=request.cookies.get(SESSION_COOKIE))
        except ValidationFailed as exc:
            return page("accounts/login.html", status=401, errors={"_": exc.message}, email=email,
                        next=next)
        except RateLimited as exc:
            resp = page("accounts/login.html", status=429, errors={"_": exc.message}, email=email,
                        next=next)
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        flash(request, f"Signed in as {signed.user.email}.")
        default = {"seller": "/orders", "mediator": "/admin/"}.get(signed.user.role, "/orders")
        return set_session_cookie(Redirect(safe_next(next, default), status_code=303), signed.token)

    @post("/logout")
    async def logout(self, request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await services.sign_out(token)
        flash(request, "You are signed out.")
        return set_session_cookie(Redirect("/", status_code=303), None)

    @get("/account", guards=[requires_login])
    async def account(self, request: Request) -> Template:
        return await self._account_page(request)

    async def _account_page(self, request: Request, status: int = 200, **errors: Any) -> Template:
        user = current_user(request)
        account = await services.get_user(user["id"])
        sessions = await services.list_sessions(user["id"])
        return page("accounts/account.html", status=status, account=account, sessions=sessions,
                    current_session_id=request.scope["auth"]["id"],
                    profile_errors=errors.get("profile_errors", {}),
                    password_errors=errors.get("password_errors", {}))

    @post("/account/profile", guards=[requires_login])
    async def update_profile(self, request: Request) -> Response:
        form = await request.form()
        try:
            await services.update_profile(
                current_user(request)["id"], display_name=str(form.get("display_name", "")),
                phone=str(form.get("phone", "")),
                store_name=str(form["store_name"]) if "store_name" in form else None)
        except ValidationFailed as exc:
            return await self._account_page(request, 422, profile_errors=_errors(exc))
        flash(request, "Profile saved.")
        return Redirect("/account", status_code=303)

    @post("/account/password", guards=[requires_login])
    async def change_password(self, request: Request) -> Response:
        form = await request.form()
        try:
            await services.change_password(
                current_user(request)["id"], current=str(form.get("current_password", "")),
                new=str(form.get("new_password", "")), keep_session_id=request.scope["auth"]["id"])
        except ValidationFailed as exc:
            return await self._account_page(request, 422, password_errors=_errors(exc))
        flash(request, "Password changed. Every other session has been signed out.")
        return Redirect("/account", status_code=303)

    @post("/account/sessions/end-others", guards=[requires_login])
    async def end_other_sessions(self, request: Request) -> Response:
        ended = await services.end_other_sessions(current_user(request)["id"],
                                                  request.scope["auth"]["id"])
        flash(request, f"Signed out {ended} other session{'s' if ended != 1 else ''}.")
        return Redirect("/account", status_code=303)

ROUTES = [AccountController]
