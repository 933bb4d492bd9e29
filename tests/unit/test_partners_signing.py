"""Webhook signatures (pure): sign/verify round trip, tolerance, tampering, header parsing."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from trustdesk.partners import sign, verify_signature
from trustdesk.partners.signing import parse_header

SECRET = "whsec_test"


def test_header_is_t_and_v1_hex_hmac_of_t_dot_body() -> None:
    header = sign(SECRET, b'{"id":1}', timestamp=1700000000)
    expected = hmac.new(SECRET.encode(), b'1700000000.{"id":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


@given(body=st.binary(max_size=2000), t=st.integers(min_value=0, max_value=2**33))
def test_round_trip(body: bytes, t: int) -> None:
    assert verify_signature(SECRET, sign(SECRET, body, t), body, now=t)


@given(body=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0, max_value=199))
def test_any_changed_byte_is_rejected(body: bytes, flip: int) -> None:
    header = sign(SECRET, body, 1000)
    i = flip % len(body)
    tampered = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
    assert not verify_signature(SECRET, header, tampered, now=1000)


def test_old_and_future_timestamps_are_rejected() -> None:
    header = sign(SECRET, b"x", 10_000)
    assert verify_signature(SECRET, header, b"x", now=10_300)
    assert not verify_signature(SECRET, header, b"x", now=10_301)
    assert not verify_signature(SECRET, header, b"x", now=9_699)
    assert not verify_signature(SECRET, header, b"x", tolerance=5, now=10_006)


def test_garbage_headers_are_rejected_not_raised() -> None:
    for header in ["", "t=abc,v1=00", "v1=00", "t=1", "nonsense", "t=1,v1="]:
        assert not verify_signature(SECRET, header, b"x", now=1)
    assert parse_header("t=5,v1=aa,v1=bb,v0=cc") == (5, ["aa", "bb"])


def test_text_and_bytes_bodies_agree() -> None:
    assert sign(SECRET, "é", 1) == sign(SECRET, "é".encode(), 1)
