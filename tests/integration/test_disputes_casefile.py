"""The signed case file: round trip verifies; one changed byte anywhere (any file, the JSON,
the manifest, the signature) or another key makes verification fail; the CLI agrees."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.integration.test_disputes_support import file, jpeg, make_cast, pdf, upload
from trustdesk.cli import main as cli
from trustdesk.disputes import casefile, services


async def case_zip() -> tuple[int, bytes]:
    cast = await make_cast()
    d = await file(cast, uploads=[upload("photo.jpg", jpeg()), upload("receipt.pdf", pdf())])
    await services.post_message(d.id, body="Please look at the seams.", actor=cast.b)
    _, data = await casefile.build_case_file(d.id)
    return d.id, data


def rezip(data: bytes, member: str, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            dst.writestr(info.filename, change(content) if info.filename == member else content)
    return out.getvalue()


def flip(content: bytes) -> bytes:
    middle = len(content) // 2
    return content[:middle] + bytes([content[middle] ^ 0x01]) + content[middle + 1:]


def public() -> object:
    return casefile.load_public_key(casefile.public_key_pem())


async def test_round_trip_verifies_and_holds_everything() -> None:
    dispute_id, data = await case_zip()
    result = casefile.verify_zip(data, public())
    assert result.ok, result.problems
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"dispute.json", "manifest.json", "manifest.sig", "VERIFY.txt"} <= set(names)
    assert sum(n.startswith("evidence/") for n in names) == 2
    record = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("dispute.json"))
    assert record["dispute"]["id"] == dispute_id
    assert [e["kind"] for e in record["timeline"]] == ["opened", "evidence", "message"]
    assert "at least the item price" in record["mandated_refund_rule"]
    assert any(a["action"] == "disputes:evidence:filed" for a in record["audit"])
    assert "token" not in record["order"]


@pytest.mark.parametrize("member", ["dispute.json", "VERIFY.txt", "manifest.json", "evidence/0"])
async def test_one_changed_byte_in_any_file_fails(member: str) -> None:
    _, data = await case_zip()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    target = next(n for n in names if n.startswith(member)) if member.endswith("/0") else member
    if member == "evidence/0":
        for target in [n for n in names if n.startswith("evidence/")]:
            tampered = rezip(data, target, flip)
            assert not casefile.verify_zip(tampered, public()).ok
        return
    tampered = rezip(data, target, flip)
    result = casefile.verify_zip(tampered, public())
    assert not result.ok and result.problems


async def test_changed_signature_extra_file_other_key_and_raw_byte_all_fail() -> None:
    _, data = await case_zip()
    import base64

    def bad_sig(sig: bytes) -> bytes:
        raw = bytearray(base64.b64decode(sig.strip()))
        raw[0] ^= 0xFF
        return base64.b64encode(bytes(raw))

    assert not casefile.verify_zip(rezip(data, "manifest.sig", bad_sig), public()).ok
    extra = io.BytesIO(data)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("evidence/planted.jpg", b"x")
    assert not casefile.verify_zip(extra.getvalue(), public()).ok
    assert not casefile.verify_zip(data, Ed25519PrivateKey.generate().public_key()).ok
    raw = bytearray(data)
    raw[len(raw) // 3] ^= 0x01
    assert not casefile.verify_zip(bytes(raw), public()).ok


async def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, data = await case_zip()
    good = tmp_path / "case.zip"
    good.write_bytes(data)
    key = tmp_path / "key.pem"
    key.write_bytes(casefile.public_key_pem())
    assert cli(["verify-case-file", str(good), "--public-key", str(key)]) == 0
    assert "OK: signature valid" in capsys.readouterr().out
    assert cli(["verify-case-file", str(good)]) == 0  # this installation's own key
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rezip(data, "dispute.json", flip))
    assert cli(["verify-case-file", str(bad), "--public-key", str(key)]) == 1
    assert "dispute.json: SHA-256 does not match" in capsys.readouterr().out
    assert cli(["verify-case-file", str(tmp_path / "missing.zip"), "--public-key", str(key)]) == 2
