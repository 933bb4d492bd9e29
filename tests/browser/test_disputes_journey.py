"""The dispute journey in Chromium: a buyer files substandard_quality with a photo; the seller
offers a partial refund; the buyer rejects; the mediator assigns and rules a full refund in
/admin/; both parties see the ruling with reasons and the money timeline shows the refund.
Plus: a 1 GB upload to the real server is cut off early."""

from __future__ import annotations

import io
import re
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.browser.conftest import shot, sign_in

REASONS = ("The kurta's embroidery is coming apart and the fabric is much thinner than the "
           "listing photos. The buyer's photo shows loose threads along the whole neckline; "
           "the complaint is upheld.")


def photo(tmp: Path) -> Path:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (800, 600), (236, 228, 210))
    draw = ImageDraw.Draw(img)
    for y in range(0, 600, 24):
        draw.line([(0, y), (800, y + 40)], fill=(190, 170, 140), width=3)
    draw.ellipse([300, 200, 500, 400], outline=(170, 20, 20), width=10)
    path = tmp / "kurta-neckline.jpg"
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (31.0, 33.0, 0.0), 3: "E", 4: (74.0, 21.0, 0.0)}
    img.save(path, format="JPEG", exif=exif.tobytes())
    return path


def admin_login(page: Any, server: str) -> None:
    page.goto(server + "/admin/")
    page.wait_for_selector("input[type=password]")
    page.locator("input[type=text]").first.fill("mediator@demo.trustdesk")
    page.locator("input[type=password]").first.fill("demo-pass-123")
    page.locator("button[type=submit], button:has-text('Login')").first.click()
    page.wait_for_timeout(2000)


def fill_admin_form(page: Any, server: str, slug: str, values: dict[str, str], name: str) -> str:
    page.goto(f"{server}/admin/#/forms/{slug}")
    page.reload()
    page.wait_for_selector("[data-uitest=submit_custom_form_button]", timeout=20000)
    for field, value in values.items():
        el = page.locator(f"[name='{field}']").first
        tag = el.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
        if tag.startswith("select"):
            el.select_option("true" if value == "1" else value)
        elif tag == "input:checkbox":
            el.check()
        else:
            el.fill(value)
    shot(page, name)
    page.get_by_role("button", name=re.compile("submit", re.I)).first.click()
    page.wait_for_timeout(1500)
    return page.inner_text("body")


def test_dispute_from_complaint_to_refund(server: str, browser: Any, tmp_path: Path) -> None:
    seller = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    buyer = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # a phone
    mediator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    for p in (seller, buyer, mediator):
        p.set_default_timeout(20000)

    # the seller makes an escrow link; the buyer pays; it ships and arrives
    sign_in(seller, server, "seller@demo.trustdesk")
    seller.goto(server + "/sell/new")
    seller.get_by_label("Item title").fill("Hand-embroidered cotton kurta, size L")
    seller.get_by_label("Price").fill("3,000")
    seller.get_by_label("Shipping fee").fill("200")
    seller.get_by_role("button", name="Create escrow link").click()
    seller.wait_for_load_state()
    pay_link = seller.locator("#pay-link").input_value()

    sign_in(buyer, server, "buyer@demo.trustdesk")
    buyer.goto(pay_link)
    buyer.get_by_role("button", name=re.compile("Pay .* into escrow")).click()
    buyer.wait_for_load_state()
    buyer.locator("button[name=method]").first.click()
    buyer.wait_for_load_state()
    order_url = re.sub(r"[?#].*$", "", buyer.url)
    if "/orders/" not in order_url:
        buyer.goto(server + "/orders")
        buyer.get_by_role("link", name=re.compile("Hand-embroidered cotton kurta")).first.click()
        order_url = buyer.url
    order_id = int(re.search(r"/orders/(\d+)", order_url).group(1))

    seller.goto(f"{server}/orders/{order_id}")
    seller.get_by_label("Courier").select_option("TCS")
    seller.get_by_label("Tracking number").fill("TCS-778812")
    seller.get_by_role("button", name="Mark as shipped").click()
    seller.wait_for_load_state()
    buyer.goto(f"{server}/orders/{order_id}")
    buyer.get_by_role("button", name="I received the parcel").click()
    buyer.wait_for_load_state()

    # the buyer files substandard_quality with a photo
    buyer.get_by_role("link", name="File a complaint").click()
    buyer.wait_for_load_state()
    assert f"/orders/{order_id}/dispute/new" in buyer.url
    buyer.get_by_label("Substandard quality").check()
    buyer.get_by_label("Describe the problem").fill(
        "The embroidery is unravelling at the neckline and the cotton is see-through, "
        "not the thick fabric in the photos.")
    buyer.get_by_label("A full refund").check()
    buyer.get_by_label("Evidence: photos or documents").set_input_files(str(photo(tmp_path)))
    shot(buyer, "disputes-01-buyer-files-complaint")
    buyer.get_by_role("button", name="File the complaint").click()
    buyer.wait_for_load_state()
    assert "/disputes/" in buyer.url, buyer.url
    dispute_id = int(re.search(r"/disputes/(\d+)", buyer.url).group(1))
    body = buyer.inner_text("body")
    assert "Your complaint is filed" in body and "The seller must answer the complaint" in body
    assert "kurta-neckline.jpg" in body and "SHA-256" in body
    assert buyer.locator(".evidence-grid img").count() == 1
    shot(buyer, "disputes-02-buyer-dispute-page")

    # the seller offers a partial refund
    seller.goto(f"{server}/disputes/{dispute_id}")
    assert "Your turn." in seller.inner_text("body")
    seller.get_by_label("Offer a partial refund").check()
    seller.get_by_label(re.compile("Amount to refund")).fill("1,000")
    seller.get_by_label("Your statement or note to the buyer").fill(
        "Sorry. Embroidery is hand done and can vary; I can refund Rs 1,000 and you keep it.")
    shot(seller, "disputes-03-seller-offers-partial")
    seller.get_by_role("button", name="Send your answer").click()
    seller.wait_for_load_state()
    assert "Your offer is sent" in seller.inner_text("body")

    # the buyer rejects
    buyer.goto(f"{server}/disputes/{dispute_id}")
    assert "Rs 1,000" in buyer.inner_text("body")
    shot(buyer, "disputes-04-buyer-sees-offer")
    buyer.get_by_text("Reject the offer").first.click()
    buyer.get_by_role("button", name="Reject and ask a mediator").click()
    buyer.wait_for_load_state()
    assert "A mediator will decide" in buyer.inner_text("body")

    # the mediator assigns and rules a full refund in /admin/
    admin_login(mediator, server)
    mediator.goto(server + "/admin/#/td_dispute")
    mediator.wait_for_timeout(2500)
    shot(mediator, "disputes-05-admin-disputes-table")
    text = fill_admin_form(mediator, server, "assign-to-me", {"dispute_id": str(dispute_id)},
                           "disputes-06-admin-assign-form")
    assert "assigned to you" in text, text[-800:]
    # a ruling below the item price on an upheld quality complaint is refused, rule quoted
    text = fill_admin_form(mediator, server, "rule",
                           {"dispute_id": str(dispute_id), "outcome": "partial_refund",
                            "amount": "1,000", "reasons": REASONS},
                           "disputes-07-admin-rule-too-little")
    assert "at least the item price" in text, text[-800:]
    shot(mediator, "disputes-08-admin-rule-refused")
    text = fill_admin_form(mediator, server, "rule",
                           {"dispute_id": str(dispute_id), "outcome": "full_refund",
                            "include_shipping": "1", "reasons": REASONS},
                           "disputes-09-admin-rule-full-refund")
    assert "Ruled: full refund" in text, text[-800:]
    shot(mediator, "disputes-10-admin-ruled")

    # both parties see the ruling with reasons; the money timeline shows the refund
    for who, p in (("buyer", buyer), ("seller", seller)):
        p.goto(f"{server}/disputes/{dispute_id}")
        body = p.inner_text("body")
        assert "Outcome: Full refund" in body and "the complaint is upheld" in body
        assert "Rs 3,200" in body
        refund_rows = p.locator(".money-timeline tr.kind-refund")
        assert refund_rows.count() >= 1
        shot(p, f"disputes-11-{who}-sees-ruling")
    buyer.goto(f"{server}/orders/{order_id}")
    assert "Refunded" in buyer.inner_text("body")
    shot(buyer, "disputes-12-buyer-order-refunded")


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_one_gigabyte_upload_is_cut_off_by_the_real_server(server: str, page: Any, framing: str) -> None:
    """Raw socket against `trustdesk run`: the refusal comes long before 1 GB is sent, whether
    the body announces its size (refused at once) or streams chunked (cut off at the file limit)."""
    sign_in(page, server, "buyer@demo.trustdesk")
    page.goto(server + "/disputes")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    link = page.locator("a[href^='/disputes/']").first.get_attribute("href")
    host, port = urlparse(server).hostname, urlparse(server).port
    boundary = "----tdHuge"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf_token\"\r\n\r\n"
            f"{cookies['td_csrf']}\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"evidence\"; filename=\"huge.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    total = 1024 ** 3
    request = (f"POST {link}/evidence HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Cookie: td_session={cookies['td_session']}; td_csrf={cookies['td_csrf']}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
               + (f"Content-Length: {total}\r\n\r\n" if framing == "content-length"
                  else "Transfer-Encoding: chunked\r\n\r\n")).encode()
    request += head if framing == "content-length" else b"%x\r\n%s\r\n" % (len(head), head)
    sent = 0
    chunk = b"\xff" * (256 * 1024)
    if framing == "chunked":
        chunk = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    reply = b""
    import select

    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        started = time.time()
        while sent < total and time.time() - started < 60:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server answered before the body ended
            try:
                sock.sendall(chunk)  # blocking: never leaves a chunk half-sent
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
                if b"\r\n\r\n" in reply:
                    break
        except OSError:
            pass
    assert b" 413 " in reply.split(b"\r\n", 1)[0], reply[:200]
    assert sent < 64 * 1024 * 1024, f"sent {sent} bytes before the refusal"
    print(f"\n1 GB upload ({framing}) refused with 413 after {sent / 1048576:.1f} MB were sent")
    _ = io
