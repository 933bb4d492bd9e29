"""Time decides: on a real `trustdesk run` (SQLite, in-process worker and sweep) with windows in
seconds, the seller is reminded to ship, then the unshipped order is cancelled and refunded and
the unpaid one expires; the bell, /notifications and the dev mailbox show it all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, shot, sign_in, start_server

# The server sweeps every second and reminds 16 s ahead; the process that creates the orders
# gives them 8 s to be paid and 20 s to be shipped (the demo data keeps its normal windows).
SERVER = {"TRUSTDESK_REMINDER_LEAD": "16s", "TRUSTDESK_SWEEP_INTERVAL": "1s"}
WINDOWS = {"TRUSTDESK_PAY_WINDOW": "8s", "TRUSTDESK_SHIP_WINDOW": "20s", **SERVER}

MAKE_ORDERS = textwrap.dedent("""
    import asyncio
    from trustdesk.accounts.tables import User
    from trustdesk.core.actors import Actor, Role
    from trustdesk.db import start_pool
    from trustdesk.escrow import services

    async def main():
        await start_pool()
        seller = await User.objects().where(User.email == "seller@demo.trustdesk").first()
        buyer = await User.objects().where(User.email == "buyer@demo.trustdesk").first()
        unpaid = await services.create_order(seller.id, services.NewOrder(
            title="Hand-painted tea set", amount_minor=540000), actor=Actor(Role.SELLER, seller.id))
        paid = await services.create_order(seller.id, services.NewOrder(
            title="Ajrak bedsheet", amount_minor=320000, shipping_minor=25000),
            actor=Actor(Role.SELLER, seller.id))
        payment = await services.start_payment(paid.id, buyer.id)
        await services.complete_payment(payment.reference, succeeded=True, method="card")
        print(unpaid.id, paid.id)

    asyncio.run(main())
""")


@pytest.fixture(scope="module")
def timed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int, int]]:
    tmp = tmp_path_factory.mktemp("jobs-server")
    proc, url = start_server(tmp, SERVER)
    env = {k: v for k, v in os.environ.items() if k != "_TRUSTDESK_TEST_ENV_READY"}
    env.update({"TRUSTDESK_ENV": "development", "TRUSTDESK_BROKER_URL": "",
                "TRUSTDESK_DATABASE_URL": f"sqlite:///{tmp / 'browser.sqlite3'}",
                "TRUSTDESK_DATA_DIR": str(tmp / "data"), **WINDOWS})
    # A second process writes through the services (its own messages go nowhere: the server's
    # sweep has to find the deadlines in the database).
    out = subprocess.run([sys.executable, "-c", MAKE_ORDERS], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=60)
    unpaid_id, paid_id = (int(x) for x in out.stdout.split()[-2:])
    yield url, tmp, unpaid_id, paid_id
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for_text(page, url: str, text: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        page.goto(url)
        if text in page.content():
            return
        time.sleep(1)
    raise AssertionError(f"{text!r} never appeared on {url}")


def test_seller_sees_the_ship_reminder_then_the_cancellation(timed_server, page) -> None:
    url, _, unpaid_id, paid_id = timed_server
    sign_in(page, url, "seller@demo.trustdesk")
    # the reminder comes 16 s before ship_by, i.e. ~4 s after payment
    wait_for_text(page, url + "/notifications", f"Ship order #{paid_id} by")
    assert page.locator(".bell .badge-count").is_visible()
    shot(page, "jobs-01-seller-ship-reminder", full_page=False)
    # then ship_by (20 s) passes: cancelled, the buyer refunded in full
    wait_for_text(page, url + "/notifications", "the seller did not ship it in time")
    wait_for_text(page, url + "/notifications",
                  "it was not paid before the payment link expired")
    count = page.locator(".bell .badge-count").inner_text()
    assert int(count) >= 3
    shot(page, "jobs-02-seller-outcomes", full_page=False)
    page.get_by_role("button", name="Mark all as read").click()
    page.wait_for_load_state()
    assert page.locator(".bell .badge-count").count() == 0
    shot(page, "jobs-03-seller-all-read", full_page=False)


def test_buyer_sees_the_refund_and_the_mailbox_has_every_email(timed_server, page) -> None:
    url, _, _, paid_id = timed_server
    sign_in(page, url, "buyer@demo.trustdesk")
    wait_for_text(page, url + "/notifications", f"Order #{paid_id} was cancelled")
    assert "refunded in full" in page.content()
    shot(page, "jobs-04-buyer-refund", full_page=False)
    page.goto(url + "/dev/mailbox?to=seller@demo.trustdesk")
    body = page.content()
    assert f"Ship order #{paid_id} by" in body
    assert f"Order #{paid_id} was cancelled" in body
    shot(page, "jobs-05-dev-mailbox", full_page=False)
    page.get_by_role("link", name=f"Ship order #{paid_id} by").first.click()
    page.wait_for_load_state()
    assert "or the order is cancelled and the buyer refunded in full" in page.content()
    shot(page, "jobs-06-dev-mailbox-reminder", full_page=False)


def test_mobile_width_notifications_are_usable(timed_server, browser) -> None:
    url, _, _, _ = timed_server
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    page = ctx.new_page()
    try:
        sign_in(page, url, "buyer@demo.trustdesk")
        page.goto(url + "/notifications")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        shot(page, "jobs-07-notifications-375", full_page=False)
    finally:
        ctx.close()
