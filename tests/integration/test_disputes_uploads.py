# ruff: noqa: F811  (the `client` fixture is imported from test_disputes_support)
"""Bad evidence never gets stored: at least 50 hostile or broken uploads, each refused with a
4xx and a message naming the file, with evidence storage, scratch space and rows unchanged."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.test_disputes_support import (
    file,
    jpeg,
    make_cast,
    make_order,
    pdf,
    png,
    webp,
)
from tests.support.factories import login
from trustdesk.disputes import evidence as ev
from trustdesk.disputes.tables import Dispute, Evidence
from trustdesk.settings import get_settings

MAX = get_settings().evidence_max_bytes


def raw_multipart(parts: list[tuple[bytes, bytes | None, bytes]], token: str,
                  boundary: bytes = b"----tdBoundary7MA4YWxk") -> tuple[bytes, str]:
    """(name, filename or None, data) parts, the form token first, built by hand so that file
    names reach the server byte for byte (httpx would percent-escape control characters)."""
    out = bytearray()
    for name, filename, data in [(b"_csrf_token", None, token.encode())] + parts:
        out += b"--" + boundary + b"\r\n"
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        out += disposition + b"\r\n"
        if filename is not None:
            out += b"Content-Type: image/jpeg\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary + b"--\r\n"
    return bytes(out), "multipart/form-data; boundary=" + boundary.decode()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_bomb() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def png_real_bomb() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (9000, 9000), 0).save(out, format="PNG")  # 81 MP of nothing, a few KB
    return out.getvalue()


def gif() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, format="GIF")
    return out.getvalue()


def bmp() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="BMP")
    return out.getvalue()


def tiff() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="TIFF")
    return out.getvalue()


def zipfile_bytes() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.txt", "hello")
    return out.getvalue()


def pdf_with_stream_js() -> bytes:
    hidden = zlib.compress(b"<< /S /JavaScript /JS (app.alert(1)) >>")
    body = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(hidden) + hidden + b"\nendstream"
    return pdf().replace(b"trailer", b"5 0 obj\n" + body + b"\nendobj\ntrailer")


J, P, W, D = jpeg(), png(), webp(), pdf()
TOO_BIG = J[:-2] + b"\x00" * (MAX + 1 - len(J)) + b"\xff\xd9"
assert len(TOO_BIG) == MAX + 1

# (label, filename, data)
BAD: list[tuple[str, bytes, bytes]] = [
    ("text named .jpg", b"notes.jpg", b"just some text, not a photo"),
    ("random bytes named .png", b"noise.png", bytes(range(256)) * 8),
    ("GIF", b"anim.gif", gif()),
    ("GIF named .jpg", b"anim.jpg", gif()),
    ("BMP", b"pic.bmp", bmp()),
    ("TIFF", b"scan.tif", tiff()),
    ("ICO-like", b"favicon.ico", b"\x00\x00\x01\x00\x01\x00\x10\x10" + b"\x00" * 100),
    ("ZIP", b"photos.zip", zipfile_bytes()),
    ("DOCX (zip) named .pdf", b"letter.pdf", zipfile_bytes()),
    ("Windows EXE", b"setup.jpg", b"MZ\x90\x00\x03" + b"\x00" * 200),
    ("ELF binary", b"a.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 200),
    ("HTML", b"page.html", b"<!doctype html><html><script>alert(1)</script></html>"),
    ("HTML named .jpg", b"photo.jpg", b"<html><body onload=alert(1)>"),
    ("HTML with BOM", b"photo.jpeg", b"\xef\xbb\xbf<html><script>x</script>"),
    ("SVG", b"logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    ("SVG named .png", b"logo.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("XML", b"data.xml", b'<?xml version="1.0"?><a/>'),
    ("JSON", b"data.json", b'{"a": 1}'),
    ("JavaScript", b"app.js", b"alert(document.cookie)"),
    ("PHP", b"shell.php.jpg", b"<?php system($_GET['c']); ?>"),
    ("shell script", b"run.sh", b"#!/bin/sh\nrm -rf /\n"),
    ("RTF", b"doc.rtf", b"{\\rtf1\\ansi hello}"),
    ("HEIC", b"IMG_0001.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100),
    ("MP4", b"clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100),
    ("AVI (RIFF, not WebP)", b"clip.webp", b"RIFF\x10\x00\x00\x00AVI LIST" + b"\x00" * 8),
    ("WAV (RIFF, not WebP)", b"voice.webp", b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x00" * 8),
    ("gzip", b"logs.gz", zlib.compress(b"x" * 100)),
    ("PostScript", b"doc.ps", b"%!PS-Adobe-3.0\n"),
    ("polyglot: JPEG + ZIP", b"poly.jpg", J + zipfile_bytes()),
    ("polyglot: JPEG + HTML", b"poly2.jpg", J + b"<html><script>alert(1)</script></html>"),
    ("polyglot: PNG + script", b"poly.png", P + b"<script>alert(1)</script>"),
    ("polyglot: PNG + trailing data", b"tail.png", P + b"\x00\x01\x02 hidden payload"),
    ("polyglot: JPEG comment with script", b"com.jpg", J[:2] + b"\xff\xfe\x00\x1e<script>alert(1)</script>\x00" + J[2:]),
    ("polyglot: WebP with extra data", b"extra.webp", W + b"PK\x03\x04 extra"),
    ("polyglot: PDF with HTML", b"page.pdf", pdf(b"<html><script>alert(1)</script></html>")),
    ("polyglot: PDF inside JPEG", b"pdfjpg.jpg", J + b"%PDF-1.4 trailer %%EOF"),
    ("truncated JPEG", b"half.jpg", J[: len(J) // 2]),
    ("truncated PNG", b"half.png", P[: len(P) // 2]),
    ("truncated WebP", b"half.webp", W[: len(W) // 2]),
    ("truncated PDF (no %%EOF)", b"half.pdf", D[: len(D) // 2]),
    ("JPEG magic only", b"magic.jpg", b"\xff\xd8\xff"),
    ("PNG magic only", b"magic.png", b"\x89PNG\r\n\x1a\n"),
    ("decompression bomb (header)", b"bomb.png", png_header_bomb()),
    ("decompression bomb (real)", b"bomb2.png", png_real_bomb()),
    ("0 bytes", b"empty.jpg", b""),
    ("limit + 1 byte", b"big.jpg", TOO_BIG),
    ("path traversal ../", b"../../etc/passwd.jpg", J),
    ("path traversal ..\\", b"..\\..\\windows\\win.ini.jpg", J),
    ("absolute path", b"/etc/shadow.jpg", J),
    ("Windows path", b"C:\\Users\\me\\photo.jpg", J),
    ("subfolder", b"a/b.jpg", J),
    ("hidden dot file", b".htaccess.jpg", J),
    ("NUL in name", b"photo\x00.php.jpg", J),
    ("control char \\x01", b"ph\x01oto.jpg", J),
    ("escape sequence", b"\x1b[31mred.jpg", J),
    ("DEL char", b"del\x7f.jpg", J),
    ("tab in name", b"tab\there.jpg", J),
    ("RTL override", "gpj\u202eexe.jpg".encode(), J),
    ("zero-width joiner", "pho\u200dto.jpg".encode(), J),
    ("name too long", b"a" * 300 + b".jpg", J),
    ("PDF /JavaScript", b"js.pdf", pdf(b"/S /JavaScript /JS (app.alert(1))")),
    ("PDF /JS only", b"js2.pdf", pdf(b"<< /JS (app.alert(1)) >>")),
    ("PDF hex-escaped name", b"js3.pdf", pdf(b"/S /J#61vaScript /J#53 (x)")),
    ("PDF JS in compressed stream", b"js4.pdf", pdf_with_stream_js()),
    ("PDF /Launch", b"launch.pdf", pdf(b"/OpenAction << /S /Launch /F (cmd.exe) >>")),
    ("PDF /EmbeddedFile", b"emb.pdf", pdf(b"/Type /EmbeddedFile")),
    ("PDF /AA action", b"aa.pdf", pdf(b"/AA << /O 5 0 R >>")),
    ("PDF XFA form", b"xfa.pdf", pdf(b"/XFA 7 0 R")),
]


async def snapshot() -> tuple:
    return (ev.stored_files(), ev.scratch_files(), await Evidence.count(), await Dispute.count())


@pytest.fixture
async def dispute_and_client(client: Any) -> AsyncIterator[tuple[Any, Any, Any]]:
    cast = await make_cast()
    d = await file(cast)
    await login(client, cast.buyer)
    await client.get("/account")
    yield cast, d, client


REFUSED: list[str] = []


@pytest.mark.parametrize(("label", "name", "data"), BAD, ids=[b[0] for b in BAD])
async def test_bad_upload_is_refused_and_nothing_is_stored(dispute_and_client, label, name, data) -> None:
    cast, d, client = dispute_and_client
    before = await snapshot()
    body, ctype = raw_multipart([(b"evidence", name, data)], client.cookies.get("td_csrf"))
    response = await client.post(f"/disputes/{d.id}/evidence", content=body,
                                 headers={"content-type": ctype}, follow_redirects=False)
    assert 400 <= response.status_code < 500, (label, response.status_code, response.text[:300])
    assert "could not" in response.text or "”:" in response.text or "limit" in response.text or \
        "accepted" in response.text, response.text[:500]
    assert await snapshot() == before, label
    REFUSED.append(label)


async def test_good_files_are_accepted_through_the_same_route(dispute_and_client) -> None:
    cast, d, client = dispute_and_client
    body, ctype = raw_multipart([(b"evidence", b"ok.jpg", J), (b"evidence", b"ok.png", P),
                                 (b"evidence", b"ok.webp", W), (b"evidence", b"bill (1).pdf", D)],
                                client.cookies.get("td_csrf"))
    response = await client.post(f"/disputes/{d.id}/evidence", content=body,
                                 headers={"content-type": ctype}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    rows = await Evidence.objects().where(Evidence.dispute == d.id).order_by(Evidence.id)
    assert [r.content_type for r in rows] == ["image/jpeg", "image/png", "image/webp", "application/pdf"]
    assert len(ev.stored_files()) == 4 and ev.scratch_files() == []
    for row in rows:
        path = ev.blob_path(row.sha256)
        assert not str(path).startswith(str(__import__("pathlib").Path("static").resolve()))
        assert oct(path.stat().st_mode)[-3:] == "444"


async def test_one_bad_file_in_a_batch_stores_none(dispute_and_client) -> None:
    cast, d, client = dispute_and_client
    before = await snapshot()
    body, ctype = raw_multipart([(b"evidence", b"ok.jpg", J), (b"evidence", b"bad.svg", b"<svg/>")],
                                client.cookies.get("td_csrf"))
    response = await client.post(f"/disputes/{d.id}/evidence", content=body,
                                 headers={"content-type": ctype}, follow_redirects=False)
    assert response.status_code == 422 and "bad.svg" in response.text
    assert await snapshot() == before
    REFUSED.append("batch with one bad file")


async def test_eleven_files_in_one_request_are_refused(dispute_and_client) -> None:
    cast, d, client = dispute_and_client
    before = await snapshot()
    body, ctype = raw_multipart([(b"evidence", f"p{i}.jpg".encode(), J) for i in range(11)],
                                client.cookies.get("td_csrf"))
    response = await client.post(f"/disputes/{d.id}/evidence", content=body,
                                 headers={"content-type": ctype}, follow_redirects=False)
    assert response.status_code == 422 and "At most 10 files" in response.text
    assert await snapshot() == before
    REFUSED.append("11 files in one request")


async def test_the_eleventh_file_over_time_is_refused(dispute_and_client) -> None:
    cast, d, client = dispute_and_client
    body, ctype = raw_multipart([(b"evidence", f"p{i}.jpg".encode(), jpeg(10 + i, 10)) for i in range(10)],
                                client.cookies.get("td_csrf"))
    assert (await client.post(f"/disputes/{d.id}/evidence", content=body,
                              headers={"content-type": ctype})).status_code in (200, 303)
    before = await snapshot()
    body, ctype = raw_multipart([(b"evidence", b"one-more.jpg", J)], client.cookies.get("td_csrf"))
    response = await client.post(f"/disputes/{d.id}/evidence", content=body,
                                 headers={"content-type": ctype}, follow_redirects=False)
    assert response.status_code == 422 and "at most 10 files" in response.text
    assert await snapshot() == before
    REFUSED.append("11th file in the dispute")


async def test_daily_quota(dispute_and_client) -> None:
    cast, d, client = dispute_and_client
    prepared = await ev.prepare_uploads([ev.BytesUpload("a.jpg", J)])
    with pytest.raises(ev.EvidenceRejected, match="upload limit"):
        await ev.check_quotas(d.id, cast.buyer.id, prepared,
                              ev.Limits(max_bytes=MAX, max_files=10, daily_bytes=prepared[0].size - 1))


async def test_a_huge_body_is_cut_off_early() -> None:
    """The controller feeds request.stream() to this parser; it stops pulling chunks once a file
    passes the limit, so a 1 GB body is never read whole. (Litestar's test transport cannot
    stream a request body; the browser suite repeats this against a real server.)"""
    before = await snapshot()
    sent = [0]
    boundary = b"----tdBoundary7MA4YWxk"
    opening = (b"--" + boundary + b"\r\nContent-Disposition: form-data; "
               b'name="evidence"; filename="huge.jpg"\r\nContent-Type: image/jpeg\r\n\r\n')

    async def body() -> AsyncIterator[bytes]:
        yield opening
        chunk = b"\xff" * (1024 * 1024)
        for _ in range(1024):  # 1 GB if anyone read it all
            sent[0] += len(chunk)
            yield chunk

    with pytest.raises(ev.EvidenceTooLarge) as info:
        await ev.parse_multipart(body(), "multipart/form-data; boundary=" + boundary.decode())
    assert info.value.status_code == 413 and "huge.jpg" in info.value.message
    assert sent[0] <= MAX + 1024 * 1024, f"read {sent[0]} bytes before refusing"
    assert await snapshot() == before
    REFUSED.append("1 GB body (cut off early)")


async def test_a_huge_http_body_is_cut_off_early(dispute_and_client) -> None:
    """The same through the route: the app stops pulling the body at the per-file limit."""
    cast, d, client = dispute_and_client
    before = await snapshot()
    sent = [0]
    boundary = "----tdBoundary7MA4YWxk"
    head, _ = raw_multipart([], client.cookies.get("td_csrf"), boundary.encode())
    head = head[: -len(b"--" + boundary.encode() + b"--\r\n")]
    opening = (b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; "
               b'name="evidence"; filename="huge.jpg"\r\nContent-Type: image/jpeg\r\n\r\n')

    async def body() -> AsyncIterator[bytes]:
        yield head + opening
        chunk = b"\xff" * (1024 * 1024)
        for _ in range(1024):
            sent[0] += len(chunk)
            yield chunk

    response = await client.post(f"/disputes/{d.id}/evidence", content=body(),
                                 headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413 and "huge.jpg" in response.text
    assert sent[0] <= MAX + 2 * 1024 * 1024, f"the app pulled {sent[0]} bytes before refusing"
    assert await snapshot() == before
    REFUSED.append("1 GB body over HTTP (cut off early)")


@pytest.mark.parametrize("declared", ["100", "999999999999"])
async def test_lying_content_length(dispute_and_client, declared: str) -> None:
    cast, d, client = dispute_and_client
    before = await snapshot()
    body, ctype = raw_multipart([(b"evidence", b"big.jpg", TOO_BIG)], client.cookies.get("td_csrf"))
    response = await client.post(f"/disputes/{d.id}/evidence", content=body,
                                 headers={"content-type": ctype, "content-length": declared},
                                 follow_redirects=False)
    assert 400 <= response.status_code < 500
    assert await snapshot() == before
    REFUSED.append(f"lying Content-Length {declared}")


@pytest.mark.parametrize(("label", "name", "data"), BAD[::9], ids=[b[0] for b in BAD[::9]])
async def test_bad_file_on_the_complaint_form_files_nothing(client: Any, label, name, data) -> None:
    cast = await make_cast()
    order = await make_order(cast)
    await login(client, cast.buyer)
    await client.get("/account")
    before = await snapshot()
    body, ctype = raw_multipart([(b"reason", None, b"damaged"), (b"wanted", None, b"full_refund"),
                                 (b"statement", None, b"Arrived broken in pieces."),
                                 (b"evidence", name, data)], client.cookies.get("td_csrf"))
    response = await client.post(f"/orders/{order.id}/dispute", content=body,
                                 headers={"content-type": ctype}, follow_redirects=False)
    assert 400 <= response.status_code < 500, (label, response.status_code)
    assert await snapshot() == before
    from trustdesk.escrow.services import get_order

    assert (await get_order(order.id)).state == "delivered"
    REFUSED.append(f"complaint form: {label}")


def test_bad_upload_count() -> None:
    """Runs last in this module: prints the number for the report."""
    if not REFUSED:
        pytest.skip("upload tests did not run")
    print(f"\nBAD UPLOADS REFUSED: {len(REFUSED)} (storage, scratch and rows unchanged each time)")
    assert len(REFUSED) >= 50
