"""`trustdesk create-api-key --seller SLUG [--name NAME]`: prints the key alone on its last line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


async def _create(slug: str, name: str) -> tuple[Any, str, Any]:
    from trustdesk.accounts.tables import User
    from trustdesk.core.actors import Actor
    from trustdesk.db import close_pool, start_pool
    from trustdesk.partners import services

    await start_pool()
    try:
        seller = await User.objects().where((User.slug == slug) & (User.role == "seller")).first()
        if seller is None:
            return None, "", None
        row, raw = await services.create_api_key(seller.id, name=name, actor=Actor.system("cli"))
        return row, raw, seller
    finally:
        await close_pool()


def cmd_create_api_key(args: argparse.Namespace) -> int:
    from trustdesk.core.errors import ValidationFailed

    try:
        row, raw, seller = asyncio.run(_create(args.seller, args.name or "CLI key"))
    except ValidationFailed as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if row is None:
        print(f"error: no seller with the slug {args.seller!r} (see /sellers/<slug>)", file=sys.stderr)
        return 2
    print(f"Created API key “{row.name}” for {seller.store_name} (/sellers/{seller.slug}).")
    print("It is shown only now; store it as a secret. Use it as: Authorization: Bearer <key>")
    print(raw)
    return 0


def add_commands(subparsers: Any) -> None:
    p = subparsers.add_parser("create-api-key",
                              help="create a partner API key for a seller (printed once, last line)")
    p.add_argument("--seller", required=True, metavar="SLUG", help="the seller's slug")
    p.add_argument("--name", help="a name to recognise the key by")
    p.set_defaults(func=cmd_create_api_key)
