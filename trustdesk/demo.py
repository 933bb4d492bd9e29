"""Demo data (idempotent): demo users, then each domain's demo in order."""

from __future__ import annotations

import importlib

from trustdesk.accounts.tables import User

DEMO_PASSWORD = "demo-pass-123"
DEMO_USERS = [
    # email, role, display name, store name
    ("buyer@demo.trustdesk", "buyer", "Ayesha Khan (demo buyer)", None),
    ("seller@demo.trustdesk", "seller", "Bilal Ahmed (demo seller)", "Demo Store"),
    ("mediator@demo.trustdesk", "mediator", "Sana Mirza (demo mediator)", None),
]
DOMAIN_DEMOS = (
    "trustdesk.escrow.demo",
    "trustdesk.disputes.demo",
    "trustdesk.ratings.demo",
    "trustdesk.partners.demo",
)


async def ensure_user(email: str, role: str, name: str, store: str | None,
                      password: str = DEMO_PASSWORD) -> User:
    from trustdesk.accounts.services import register_user

    existing = await User.objects().where(User.email == email).first()
    if existing:
        return existing
    return await register_user(email=email, password=password, role=role, display_name=name,
                               store_name=store or "", via="cli")


async def load_demo() -> bool:
    """Create whatever demo data is missing; True if anything was created."""
    from trustdesk.db import start_pool

    await start_pool()
    created = False
    for email, role, name, store in DEMO_USERS:
        if not await User.exists().where(User.email == email):
            created = True
        await ensure_user(email, role, name, store)
    for module_name in DOMAIN_DEMOS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        created = bool(await module.load()) or created
    return created


async def load_demo_if_empty() -> None:
    if await User.count() == 0:
        await load_demo()


def print_logins() -> None:
    print("  Demo logins (password for all: demo-pass-123):")
    for email, role, _, store in DEMO_USERS:
        extra = f"  store: {store}" if store else ""
        print(f"    {role:<9} {email}{extra}")
