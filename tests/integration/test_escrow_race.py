"""Race test with real concurrent transactions (asyncio.gather on the real engine; the
connection pool on PostgreSQL, IMMEDIATE transactions on SQLite).

For each of 50 funded orders, 20 conflicting commands run at once: 7 ship (seller), 7 cancel
(seller: full refund), 6 release (buyer accepts). Per order exactly one of ship/cancel applies,
release never applies together with cancel, at most one of each applies, the ledger balances and
holds exactly what the final state says, and nothing but a domain refusal reaches the caller
(no "database is locked", no 500). Figures go to stdout and test-artifacts/escrow-race-<db>.json.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path

from tests.support.factories import make_user
from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import Conflict, DomainError
from trustdesk.db import is_postgres, retry_on_conflict
from trustdesk.escrow import services
from trustdesk.escrow.tables import LedgerEntry, Order

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 50
COMMANDS = ["ship"] * 7 + ["cancel"] * 7 + ["release"] * 6


async def test_twenty_conflicting_commands_on_fifty_orders() -> None:
    seller = await make_user("seller")
    buyer = await make_user("buyer")
    as_seller, as_buyer = Actor(Role.SELLER, seller.id), Actor(Role.BUYER, buyer.id)
    rng = random.Random(20261122)
    figures: Counter[str] = Counter()
    unexpected: list[str] = []
    violations: list[str] = []

    async def attempt(kind: str, order_id: int) -> tuple[str, str]:
        def command():
            if kind == "ship":
                return services.ship_order(order_id, carrier="TCS", tracking_number="RACE-1",
                                           actor=as_seller)
            if kind == "cancel":
                return services.cancel_order(order_id, actor=as_seller, reason="race")
            return services.release_funds(order_id, actor=as_buyer)

        try:
            await retry_on_conflict(command)  # what the web controllers do
            return kind, "applied"
        except Conflict:
            return kind, "conflict"
        except DomainError:
            return kind, "refused"
        except Exception as exc:  # noqa: BLE001 - anything else would be a 500 for a user
            unexpected.append(f"{kind}: {type(exc).__name__}: {exc}")
            return kind, "error"

    for _ in range(ORDERS):
        order = await services.create_order(seller.id, services.NewOrder(
            title="Race item", amount_minor=rng.randint(100, 10_000_000), shipping_minor=0),
            actor=as_seller)
        payment = await services.start_payment(order.id, buyer.id)
        await services.complete_payment(payment.reference, succeeded=True, method="raast")
        commands = COMMANDS[:]
        rng.shuffle(commands)
        results = await asyncio.gather(*(attempt(kind, order.id) for kind in commands))
        applied = Counter(kind for kind, outcome in results if outcome == "applied")
        figures["commands"] += len(results)
        figures["applied"] += sum(applied.values())
        figures["conflicts_seen"] += sum(1 for _, o in results if o in ("refused", "conflict"))
        figures["version_conflicts"] += sum(1 for _, o in results if o == "conflict")
        final = await Order.objects().get(Order.id == order.id)
        figures[f"final_{final.state}"] += 1
        held = await services.escrow_balance(order.id)
        total = services.total(final).minor
        problems = []
        if applied["ship"] + applied["cancel"] != 1:
            problems.append(f"ship/cancel applied {applied['ship']}/{applied['cancel']} (want exactly one)")
        if applied["release"] > 1 or (applied["release"] and applied["cancel"]):
            problems.append(f"release applied {applied['release']} with cancel {applied['cancel']}")
        if applied["release"] and not applied["ship"]:
            problems.append("released without shipping")
        expected_state = ("cancelled" if applied["cancel"] else
                          "released" if applied["release"] else "shipped")
        if final.state != expected_state:
            problems.append(f"state {final.state}, expected {expected_state}")
        expected_held = total if final.state == "shipped" else 0
        if held != expected_held:
            problems.append(f"escrow holds {held}, expected {expected_held}")
        refunds = await services.account_balance(f"refunds:buyer:{buyer.id}")
        figures["_refunds"] = refunds
        if problems:
            violations.append(f"order {order.id}: " + "; ".join(problems))

    unbalanced = await LedgerEntry.raw(
        "SELECT posting_id, SUM(amount_minor) AS total FROM td_ledger_entry "
        "GROUP BY posting_id, currency HAVING SUM(amount_minor) <> 0")
    if unbalanced:
        violations.append(f"unbalanced postings: {unbalanced}")
    everything = await LedgerEntry.raw("SELECT COALESCE(SUM(amount_minor), 0) AS total FROM td_ledger_entry")
    if int(everything[0]["total"]) != 0:
        violations.append("the whole ledger does not sum to zero")
    report = {"db": "postgresql" if is_postgres() else "sqlite", "orders": ORDERS,
              "commands_per_order": len(COMMANDS), **{k: v for k, v in figures.items() if not k.startswith("_")},
              "unexpected_errors": len(unexpected), "violations": len(violations)}
    print("\nESCROW RACE FIGURES", json.dumps(report, sort_keys=True))
    out = ROOT / "test-artifacts" / f"escrow-race-{report['db']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, sort_keys=True))
    assert not unexpected, unexpected[:5]
    assert not violations, violations[:5]
    assert figures["conflicts_seen"] > 0
