"""Demo data for partners: a known API key for the demo seller (development only)."""

from __future__ import annotations

DEMO_KEY = "td_key_demo-store-not-secret-0000000000000000000"


async def load() -> bool:
    """Give the demo seller the documented demo key (idempotent; never in production)."""
    from trustdesk.accounts.tables import User
    from trustdesk.core.clock import now
    from trustdesk.partners.services import hash_key
    from trustdesk.partners.tables import ApiKey
    from trustdesk.settings import get_settings

    if get_settings().is_production:
        return False
    seller = await User.objects().where(User.email == "seller@demo.trustdesk").first()
    if seller is None or await ApiKey.exists().where(ApiKey.key_hash == hash_key(DEMO_KEY)):
        return False
    await ApiKey.insert(ApiKey(seller=seller.id, name="Demo key (public: development only)",
                               prefix=DEMO_KEY[:14], key_hash=hash_key(DEMO_KEY),
                               created_at=now()))
    return True
