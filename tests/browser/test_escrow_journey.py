"""The escrow journey in Chromium: the demo seller makes a link; a new buyer opens it, registers
(and comes back to the link), pays with sandbox Raast; the seller ships with TCS; the buyer
confirms delivery and accepts; both see "Released" and the money timeline."""

from __future__ import annotations

import re
import secrets

from tests.browser.conftest import shot, sign_in


def test_escrow_journey_from_link_to_release(server: str, browser, page) -> None:
    # -- the demo seller makes a link
    seller = page
    sign_in(seller, server, "seller@demo.trustdesk")
    seller.goto(server + "/sell/new")
    shot(seller, "escrow-01-sell-new")
    seller.get_by_label("Item title").fill("Hand-embroidered Balochi cushion covers (pair)")
    seller.get_by_label("Description (optional)").fill("Red and gold, 45 × 45 cm, zip closure.")
    seller.get_by_label("Price").fill("3,200")
    seller.get_by_label("Shipping fee").fill("250")
    seller.get_by_role("button", name="Create escrow link").click()
    seller.wait_for_load_state()
    assert "Your escrow link is ready" in seller.content()
    link = seller.locator("#pay-link").input_value()
    assert re.search(r"/pay/[A-Za-z0-9_-]{20,}$", link), link
    assert seller.locator("img[alt='QR code for the payment link']").count() == 1
    shot(seller, "escrow-02-link")

    # -- a new buyer opens it, registers, returns to the link, pays with Raast
    buyer_ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    buyer = buyer_ctx.new_page()
    buyer.set_default_timeout(15000)
    buyer.goto(link)
    body = buyer.content()
    assert "Your money is held by TrustDesk" in body and "Demo Store" in body
    assert "Rs 3,450" in body
    shot(buyer, "escrow-03-pay-anonymous")
    buyer.get_by_role("link", name="Create an account to pay").click()
    buyer.wait_for_load_state()
    email = f"buyer-{secrets.token_hex(4)}@example.test"
    buyer.get_by_label("Your name").fill("Zara Hussain")
    buyer.get_by_label("Email").fill(email)
    buyer.get_by_label("Password").fill("a long enough passphrase")
    buyer.get_by_role("button", name="Create account").click()
    buyer.wait_for_load_state()
    assert buyer.url == link, buyer.url
    shot(buyer, "escrow-04-pay-signed-in")
    buyer.get_by_role("button", name=re.compile(r"^Pay Rs 3,450 into escrow")).click()
    buyer.wait_for_load_state()
    assert "/sandbox-pay/" in buyer.url
    shot(buyer, "escrow-05-sandbox")
    buyer.get_by_role("button", name="Pay (Raast)").click()
    buyer.wait_for_load_state()
    assert re.search(r"/orders/\d+$", buyer.url), buyer.url
    order_url = buyer.url
    assert "Payment received" in buyer.content()
    assert "Seller must ship by" in buyer.content()
    shot(buyer, "escrow-06-order-funded-buyer")

    # -- the seller ships with TCS
    seller.goto(order_url)
    assert "Seller must ship by" in seller.content()
    seller.get_by_label("Courier").select_option("TCS")
    seller.get_by_label("Tracking number").fill("TCS-40411223")
    shot(seller, "escrow-07-order-ship-form")
    seller.get_by_role("button", name="Mark as shipped").click()
    seller.wait_for_load_state()
    assert "Marked as shipped with TCS" in seller.content()
    shot(seller, "escrow-08-order-shipped-seller")

    # -- the buyer confirms delivery, then accepts (with the confirmation step)
    buyer.goto(order_url)
    assert "TCS-40411223" in buyer.content()
    buyer.get_by_role("button", name="I received the parcel").click()
    buyer.wait_for_load_state()
    assert "Delivery confirmed" in buyer.content()
    assert "Inspection window ends" in buyer.content()
    buyer.get_by_text("Accept the item and pay the seller").click()
    shot(buyer, "escrow-09-release-confirm")
    buyer.get_by_role("button", name="Yes, release the payment").click()
    buyer.wait_for_load_state()
    assert "payment has been released to the seller" in buyer.content()
    assert buyer.locator("#order-state").inner_text() == "Released"
    money = buyer.locator("#money-h").locator("xpath=..").inner_text()
    assert "Held in escrow" in money and "Released to the seller" in money
    shot(buyer, "escrow-10-released-buyer")

    # -- the seller sees it too, and the lists agree
    seller.goto(order_url)
    assert seller.locator("#order-state").inner_text() == "Released"
    assert "Released to the seller: Rs 3,450" in seller.locator(".money-timeline").inner_text()
    shot(seller, "escrow-11-released-seller")
    seller.goto(server + "/orders")
    assert "Hand-embroidered Balochi" in seller.content()
    shot(seller, "escrow-12-orders-seller")
    buyer.goto(server + "/orders")
    assert "Hand-embroidered Balochi" in buyer.content()
    shot(buyer, "escrow-13-orders-buyer")

    # -- the order page at phone width
    phone = browser.new_context(viewport={"width": 375, "height": 812})
    mobile = phone.new_page()
    sign_in(mobile, server, "seller@demo.trustdesk")
    mobile.goto(order_url)
    shot(mobile, "escrow-14-order-375px")
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page is {width}px wide at 375px"
    funded = mobile.evaluate(
        "Array.from(document.querySelectorAll('a')).map(a => a.href).filter(h => /\\/orders\\/\\d+$/.test(h))")
    assert funded is not None
    mobile.goto(server + "/orders")
    shot(mobile, "escrow-15-orders-375px")
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375
    phone.close()
    buyer_ctx.close()


def test_demo_orders_show_every_state_and_the_ship_form_at_375px(server: str, browser) -> None:
    phone = browser.new_context(viewport={"width": 375, "height": 812})
    page = phone.new_page()
    sign_in(page, server, "seller@demo.trustdesk")
    page.goto(server + "/orders?show=open")
    body = page.content()
    for label in ("Awaiting payment", "Paid, held in escrow", "Shipped", "Delivered, under inspection"):
        assert label in body, label
    shot(page, "escrow-18-orders-open-375px")
    clipped = page.evaluate("""Array.from(document.querySelectorAll('.table-scroll, .orders-table td'))
        .filter(el => el.scrollWidth > el.clientWidth + 1).length""")
    assert clipped == 0, f"{clipped} order-list cells are cut off at 375px"
    page.goto(server + "/orders?show=closed")
    body = page.content()
    assert "Released" in body and "Awaiting payment" not in body
    page.goto(server + "/orders?show=open")
    page.get_by_role("link", name=re.compile("Embroidered lawn suit")).first.click()
    page.wait_for_load_state()
    shot(page, "escrow-16-funded-order-seller-375px")
    assert "Mark as shipped" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_text("Cancel the order", exact=True).click()
    shot(page, "escrow-17-cancel-confirm-375px")
    page.goto(server + "/orders?show=open")
    page.get_by_role("link", name="Share the link with your buyer").first.click()
    page.wait_for_load_state()
    shot(page, "escrow-19-link-375px")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    link = page.locator("#pay-link").input_value()
    anonymous = browser.new_context(viewport={"width": 375, "height": 812})
    visitor = anonymous.new_page()
    visitor.goto(link)
    shot(visitor, "escrow-20-pay-375px")
    assert visitor.evaluate("document.documentElement.scrollWidth") <= 375
    assert "Create an account to pay" in visitor.content()
    anonymous.close()
    phone.close()
