"""Partner API: API keys, the REST API under /api/v1, idempotency keys and signed webhooks.

`trustdesk.partners.verify_signature(secret, header, body, tolerance=300)` checks a webhook's
`TrustDesk-Signature` header in a partner's Python code.
"""

from trustdesk.partners.signing import sign, verify_signature

__all__ = ["sign", "verify_signature"]
