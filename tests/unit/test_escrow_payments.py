"""Sandbox provider signatures: genuine callbacks verify; any change to a signed field, a
missing or wrong signature, or a stale timestamp is refused."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.escrow.payments import SIGNED_FIELDS, BadCallback, PaymentProvider, SandboxProvider

sandbox = SandboxProvider()


def _params(**kw):
    return sandbox.callback_params("ref-abc", method=kw.pop("method", "raast"),
                                   amount_minor=kw.pop("amount", 475000), currency="PKR", **kw)


def test_a_genuine_callback_verifies() -> None:
    result = sandbox.verify_callback(_params())
    assert result.succeeded and result.method == "raast" and result.amount_minor == 475000
    failed = sandbox.verify_callback(_params(method="fail"))
    assert not failed.succeeded


@given(field=st.sampled_from([f for f in SIGNED_FIELDS if f != "ts"]), junk=st.text(min_size=1, max_size=8))
def test_changing_any_signed_field_breaks_the_signature(field, junk) -> None:
    params = _params()
    params[field] = params[field] + junk
    with pytest.raises(BadCallback):
        sandbox.verify_callback(params)


def test_missing_or_wrong_signature_and_stale_callbacks_are_refused() -> None:
    params = _params()
    for bad in ({k: v for k, v in params.items() if k != "signature"}, {**params, "signature": "x"}):
        with pytest.raises(BadCallback):
            sandbox.verify_callback(bad)
    with pytest.raises(BadCallback, match="too old"):
        sandbox.verify_callback(_params(at=int(time.time()) - 2 * 24 * 3600))


def test_a_real_gateway_is_one_class() -> None:
    class Stripe(PaymentProvider):
        name = "stripe"

        def start(self, request):
            return f"https://checkout.example/{request.reference}"

        def verify_callback(self, params):
            raise BadCallback("not implemented in this test")

        def refund(self, reference, amount_minor, currency):
            return "re_1"

        def payout(self, seller_id, amount_minor, currency):
            return "po_1"

    assert Stripe().refund("r", 1, "PKR") == "re_1"
    with pytest.raises(TypeError):
        type("Half", (PaymentProvider,), {"name": "half"})()
