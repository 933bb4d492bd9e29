"""Payment providers. The app talks to one PaymentProvider interface; the sandbox is one
implementation, and a real gateway (JazzCash, Easypaisa, Raast via a bank, Stripe) is one more
class registered in PROVIDERS.

Flow: services.start_payment() makes a pending Payment row -> provider.start() gives the URL
the buyer is sent to -> the provider calls back -> provider.verify_callback() turns the signed
request into a CallbackResult (or raises BadCallback) -> services.complete_payment() applies it
once (a repeated callback changes nothing).
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlencode

from trustdesk.settings import get_settings

# The sandbox's payment methods, in the order its page offers them.
SANDBOX_METHODS: dict[str, str] = {
    "raast": "Raast",
    "jazzcash": "JazzCash wallet",
    "card": "card",
}
CALLBACK_PATH = "/sandbox-pay/callback"
CALLBACK_MAX_AGE_S = 24 * 3600


class BadCallback(Exception):
    """A callback we cannot trust (bad or missing signature, stale, malformed). Nothing changes."""


@dataclass(frozen=True)
class CallbackResult:
    reference: str
    succeeded: bool
    method: str
    provider_ref: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class PaymentRequest:
    """What a provider needs to start collecting money (no ORM rows cross this boundary)."""

    reference: str
    amount_minor: int
    currency: str
    description: str
    buyer_email: str


class PaymentProvider(abc.ABC):
    """The seam for real gateways: one subclass per gateway."""

    name: ClassVar[str]

    @abc.abstractmethod
    def start(self, request: PaymentRequest) -> str:
        """Return the URL the buyer is sent to in order to pay."""

    @abc.abstractmethod
    def verify_callback(self, params: Mapping[str, str]) -> CallbackResult:
        """Check the provider's signature on a callback; raise BadCallback if it is not genuine."""

    @abc.abstractmethod
    def refund(self, reference: str, amount_minor: int, currency: str) -> str:
        """Send money back to the payer's method; returns the provider's refund reference."""

    @abc.abstractmethod
    def payout(self, seller_id: int, amount_minor: int, currency: str) -> str:
        """Pay a seller what they are owed; returns the provider's payout reference."""


def _sandbox_key() -> bytes:
    # A key of its own, derived from the app secret, so the sandbox signature cannot be reused
    # as a flash or session signature (and vice versa).
    return hashlib.sha256(("sandbox-pay:" + get_settings().secret_key).encode()).digest()


SIGNED_FIELDS = ("reference", "status", "method", "provider_ref", "amount_minor", "currency", "ts")


def _canonical(params: Mapping[str, str]) -> bytes:
    return "\n".join(f"{k}={params.get(k, '')}" for k in SIGNED_FIELDS).encode()


def sign(params: Mapping[str, str]) -> str:
    return hmac.new(_sandbox_key(), _canonical(params), hashlib.sha256).hexdigest()


class SandboxProvider(PaymentProvider):
    """A pretend gateway served by TrustDesk itself: /sandbox-pay/<reference>."""

    name = "sandbox"

    def start(self, request: PaymentRequest) -> str:
        return f"/sandbox-pay/{request.reference}"

    def callback_params(self, reference: str, *, method: str, amount_minor: int, currency: str,
                        at: int | None = None) -> dict[str, str]:
        """What the sandbox sends back to the app after the buyer chose `method` (or "fail")."""
        failed = method == "fail"
        params = {
            "reference": reference,
            "status": "failed" if failed else "succeeded",
            "method": "" if failed else method,
            "provider_ref": "sbx_" + secrets.token_hex(8),
            "amount_minor": str(int(amount_minor)),
            "currency": currency,
            "ts": str(int(at if at is not None else time.time())),
        }
        params["signature"] = sign(params)
        return params

    def callback_url(self, params: Mapping[str, str]) -> str:
        return f"{CALLBACK_PATH}?{urlencode(dict(params))}"

    def verify_callback(self, params: Mapping[str, str]) -> CallbackResult:
        given = str(params.get("signature") or "")
        if not given or not hmac.compare_digest(given, sign({k: str(params.get(k) or "") for k in SIGNED_FIELDS})):
            raise BadCallback("The payment confirmation's signature is not valid.")
        try:
            ts = int(str(params.get("ts")))
            amount = int(str(params.get("amount_minor")))
        except ValueError as exc:
            raise BadCallback("The payment confirmation is malformed.") from exc
        if abs(time.time() - ts) > CALLBACK_MAX_AGE_S:
            raise BadCallback("The payment confirmation is too old.")
        status = str(params.get("status"))
        method = str(params.get("method") or "")
        if status not in ("succeeded", "failed") or (status == "succeeded" and method not in SANDBOX_METHODS):
            raise BadCallback("The payment confirmation is malformed.")
        return CallbackResult(reference=str(params["reference"]), succeeded=status == "succeeded",
                              method=method, provider_ref=str(params.get("provider_ref") or ""),
                              amount_minor=amount, currency=str(params.get("currency") or ""))

    def refund(self, reference: str, amount_minor: int, currency: str) -> str:
        return "sbx_refund_" + secrets.token_hex(8)

    def payout(self, seller_id: int, amount_minor: int, currency: str) -> str:
        return "sbx_payout_" + secrets.token_hex(8)


PROVIDERS: dict[str, PaymentProvider] = {SandboxProvider.name: SandboxProvider()}
DEFAULT_PROVIDER = SandboxProvider.name


def get_provider(name: str | None = None) -> PaymentProvider:
    return PROVIDERS[name or DEFAULT_PROVIDER]
