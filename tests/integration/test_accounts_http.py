"""Register, sign in and out, throttling, CSRF, session rotation, admin refusal — over HTTP."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from tests.integration.conftest import csrf_token, make_client, post_form
from tests.support.factories import PASSWORD, make_user
from trustdesk.accounts.tables import LoginAttempt, Session, User
from trustdesk.core.tables import AuditEntry


async def _login(client: AsyncTestClient, email: str, password: str = PASSWORD):
    return await post_form(client, "/login", {"email": email, "password": password}, token_from="/login",
                           follow_redirects=False)


class TestRegister:
    async def test_seller_registers_and_gets_a_unique_slug(self, client: AsyncTestClient) -> None:
        await make_user("seller", store_name="Karachi Kurtas")
        r = await post_form(client, "/register", {
            "role": "seller", "email": "new@example.test", "password": PASSWORD,
            "display_name": "Hina", "store_name": "Karachi Kurtas"}, token_from="/register")
        assert r.status_code == 200, r.text  # followed the redirect
        user = await User.objects().where(User.email == "new@example.test").first()
        assert user.role == "seller" and user.slug == "karachi-kurtas-2"
        assert user.password.startswith("$argon2id$")
        assert "td_session" in client.cookies

    async def test_duplicate_email_is_refused_with_a_message(self, client: AsyncTestClient) -> None:
        await make_user("buyer", email="dup@example.test")
        r = await post_form(client, "/register", {
            "role": "buyer", "email": "DUP@example.test", "password": PASSWORD}, token_from="/register")
        assert r.status_code == 422
        assert "already exists" in r.text
        assert await User.count().where(User.email == "dup@example.test") == 1

    async def test_weak_password_and_missing_store_name_are_explained(self, client: AsyncTestClient) -> None:
        r = await post_form(client, "/register", {"role": "buyer", "email": "a@example.test",
                                                  "password": "password123"}, token_from="/register")
        assert r.status_code == 422 and "most common" in r.text
        r = await post_form(client, "/register", {"role": "seller", "email": "b@example.test",
                                                  "password": PASSWORD}, token_from="/register")
        assert r.status_code == 422 and "store name" in r.text
        assert await User.count() == 0

    async def test_nobody_can_sign_up_as_a_mediator(self, client: AsyncTestClient) -> None:
        r = await post_form(client, "/register", {"role": "mediator", "email": "m@example.test",
                                                  "password": PASSWORD}, token_from="/register")
        assert r.status_code == 422
        assert await User.count() == 0


class TestLogin:
    async def test_login_rotates_the_session_and_logout_kills_it(self, client: AsyncTestClient) -> None:
        user = await make_user("buyer")
        r = await _login(client, user.email)
        first = client.cookies.get("td_session")
        assert r.status_code == 303 and first
        r = await _login(client, user.email)
        second = client.cookies.get("td_session")
        assert second and second != first
        assert await Session.count() == 1  # the pre-login session was dropped
        assert (await client.get("/account")).status_code == 200
        r = await post_form(client, "/logout", {})
        assert "You are signed out" in r.text
        assert await Session.count() == 0
        # the old cookie no longer works
        client.cookies.set("td_session", second)
        r = await client.get("/account", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")

    async def test_wrong_password_does_not_reveal_whether_the_email_exists(self, client: AsyncTestClient) -> None:
        user = await make_user("buyer")
        known = await _login(client, user.email, "wrong password here")
        unknown = await _login(client, "nobody@example.test", "wrong password here")
        assert known.status_code == unknown.status_code == 401
        text = "That email and password do not match an account."
        assert text in known.text and text in unknown.text
        assert "td_session" not in client.cookies

    async def test_five_failures_lock_the_account_for_a_while(self, client: AsyncTestClient) -> None:
        user = await make_user("buyer")
        for _ in range(5):
            assert (await _login(client, user.email, "wrong password here")).status_code == 401
        r = await _login(client, user.email)  # even the right password waits
        assert r.status_code == 429 and "Too many failed sign-in attempts" in r.text
        assert int(r.headers["retry-after"]) > 0
        assert "td_session" not in client.cookies
        assert await LoginAttempt.count().where(LoginAttempt.success == False) == 5  # noqa: E712

    async def test_login_records_audit_entries(self, client: AsyncTestClient) -> None:
        user = await make_user("buyer")
        await _login(client, user.email)
        actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action)]
        assert "accounts:user:registered" in actions and "accounts:login:succeeded" in actions

    async def test_next_parameter_returns_to_the_page_but_never_off_site(self, client: AsyncTestClient) -> None:
        user = await make_user("buyer")
        token = await csrf_token(client, "/login")
        r = await client.post("/login?next=https://evil.example/", data={
            "email": user.email, "password": PASSWORD, "_csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/orders"
        r = await client.post("/login?next=/account", data={
            "email": user.email, "password": PASSWORD, "_csrf_token": token}, follow_redirects=False)
        assert r.headers["location"] == "/account"


class TestCsrf:
    async def test_posts_without_the_token_are_refused_with_a_page(self, client: AsyncTestClient) -> None:
        user = await make_user("buyer")
        await client.get("/login")
        r = await client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert r.status_code == 403
        assert "This form has expired" in r.text
        assert "td_session" not in client.cookies


class TestAccount:
    async def test_password_change_ends_other_sessions(self, app, client: AsyncTestClient) -> None:
        user = await make_user("buyer")
        async with make_client(app, "http://other.local") as other:
            await _login(other, user.email)
            await _login(client, user.email)
            assert await Session.count() == 2
            r = await post_form(client, "/account/password", {
                "current_password": PASSWORD, "new_password": "a brand new passphrase"},
                token_from="/account")
            assert "Password changed" in r.text
            assert (await other.get("/account", follow_redirects=False)).status_code == 303
            assert (await client.get("/account")).status_code == 200
        client.cookies.clear()
        assert (await _login(client, user.email, "a brand new passphrase")).status_code == 303

    async def test_wrong_current_password_is_refused(self, client: AsyncTestClient) -> None:
        user = await make_user("buyer")
        await _login(client, user.email)
        r = await post_form(client, "/account/password", {
            "current_password": "not it at all", "new_password": "a brand new passphrase"},
            token_from="/account")
        assert r.status_code == 422 and "current password is not right" in r.text

    async def test_profile_update_and_validation(self, client: AsyncTestClient) -> None:
        user = await make_user("seller")
        await _login(client, user.email)
        r = await post_form(client, "/account/profile", {"display_name": "Zara", "phone": "+92 300 1234567",
                                                         "store_name": "Zara Crafts"}, token_from="/account")
        assert "Profile saved" in r.text
        row = await User.select(User.display_name, User.store_name).where(User.id == user.id).first()
        assert row == {"display_name": "Zara", "store_name": "Zara Crafts"}
        r = await post_form(client, "/account/profile", {"display_name": "", "phone": "call me"},
                            token_from="/account")
        assert r.status_code == 422

    async def test_anonymous_visitors_are_sent_to_sign_in(self, client: AsyncTestClient) -> None:
        r = await client.get("/account", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"


class TestAdmin:
    async def _admin_login(self, client: AsyncTestClient, email: str) -> int:
        page = await client.get("/admin/")
        assert page.status_code == 200
        csrf = client.cookies.get("csrftoken") or ""
        r = await client.post("/admin/public/login/", json={"username": email, "password": PASSWORD},
                              headers={"X-CSRFToken": csrf}, follow_redirects=False)
        return r.status_code

    async def test_admin_refuses_buyers_and_sellers(self, client: AsyncTestClient) -> None:
        for role in ("buyer", "seller"):
            user = await make_user(role)
            assert await self._admin_login(client, user.email) in (401, 403)

    async def test_admin_accepts_mediators(self, client: AsyncTestClient) -> None:
        mediator = await make_user("mediator")
        assert await self._admin_login(client, mediator.email) in (200, 303)
        r = await client.get("/admin/api/tables/")
        assert r.status_code == 200 and "td_user" in r.text


class TestPagesAndHeaders:
    async def test_every_page_carries_security_headers(self, client: AsyncTestClient) -> None:
        for path in ("/", "/login", "/register", "/no-such-page"):
            r = await client.get(path)
            csp = r.headers.get("content-security-policy", "")
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"]

    async def test_404_page_is_in_the_site_layout(self, client: AsyncTestClient) -> None:
        r = await client.get("/orders/does-not-exist/at-all")
        assert r.status_code == 404
        assert "Page not found" in r.text and 'class="site-header"' in r.text

    async def test_every_input_has_a_label(self, client: AsyncTestClient) -> None:
        for path in ("/login", "/register"):
            html = (await client.get(path)).text
            ids = re.findall(r'<input[^>]*id="([^"]+)"', html)
            for input_id in ids:
                assert f'for="{input_id}"' in html, (path, input_id)

    async def test_no_external_assets(self, client: AsyncTestClient) -> None:
        html = (await client.get("/")).text
        assert not re.search(r'(src|href)="(https?:)?//', html)

    async def test_health_reports_database_and_broker(self, client: AsyncTestClient) -> None:
        r = await client.get("/healthz")
        body = r.json()
        assert r.status_code == 200 and body["database"]["ok"] and body["broker"]["ok"]
