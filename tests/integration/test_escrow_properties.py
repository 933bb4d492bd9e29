"""Hypothesis stateful test of the escrow state machine and ledger together, on the real
database services (SQLite or PostgreSQL, whichever the suite targets).

Random command sequences — create, pay (incl. repeated and late callbacks), ship, confirm,
release, cancel, dispute, resume, settle with any refund amount, time passing — each by a
random actor (so refusals are exercised too). After every step:
  * every posting sums to zero per currency,
  * no escrow account is negative,
  * per order: released + refunded never exceeds funded,
  * a terminal order holds exactly 0 in escrow; a money-holding order holds its total,
  * the stored state equals the model's (the pure state machine applied to accepted commands).

The figures (runs, steps, commands applied / refused, violations) are printed and written to
test-artifacts/escrow-figures-<db>.json. TRUSTDESK_PROPERTY_EXAMPLES sets the number of runs.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.support.factories import make_user
from trustdesk.core import clock
from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import DomainError
from trustdesk.db import get_engine, is_postgres, write_transaction
from trustdesk.escrow import services
from trustdesk.escrow.states import HOLDS_MONEY, TERMINAL, Action, OrderState, can
from trustdesk.escrow.tables import LedgerEntry, Order

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("TRUSTDESK_PROPERTY_EXAMPLES", "60"))
STEPS = 40


class Figures:
    def __init__(self) -> None:
        self.runs = 0
        self.steps = 0
        self.applied: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.violations = 0
        self.reasons: Counter[str] = Counter()


async def _sql(query: str) -> list[dict[str, Any]]:
    return await LedgerEntry.raw(query)


async def ledger_violations(order_ids: list[int]) -> list[str]:
    problems: list[str] = []
    unbalanced = await _sql(
        "SELECT posting_id, currency, SUM(amount_minor) AS total FROM td_ledger_entry "
        "GROUP BY posting_id, currency HAVING SUM(amount_minor) <> 0")
    if unbalanced:
        problems.append(f"unbalanced postings: {unbalanced}")
    negative = await _sql(
        "SELECT account, SUM(amount_minor) AS total FROM td_ledger_entry "
        "WHERE account LIKE 'escrow:%' GROUP BY account HAVING SUM(amount_minor) < 0")
    if negative:
        problems.append(f"negative escrow accounts: {negative}")
    if not order_ids:
        return problems
    orders = {o.id: o for o in await Order.objects().where(Order.id.is_in(order_ids))}
    rows = await LedgerEntry.select(LedgerEntry.order, LedgerEntry.account, LedgerEntry.amount_minor,
                                    LedgerEntry.kind).where(LedgerEntry.order.is_in(order_ids))
    per: dict[int, Counter[str]] = {i: Counter() for i in order_ids}
    for r in rows:
        acct, amt = r["account"], int(r["amount_minor"])
        c = per[r["order"]]
        if acct.startswith("escrow:"):
            c["held"] += amt
            if amt > 0:
                c["funded"] += amt
        elif acct.startswith("payable:") or acct == "platform:fees":
            c["released"] += amt
        elif acct.startswith("refunds:"):
            c["refunded"] += amt
    for oid, c in per.items():
        order = orders[oid]
        state = OrderState(order.state)
        if c["released"] + c["refunded"] > c["funded"]:
            problems.append(f"order {oid}: released {c['released']} + refunded {c['refunded']} > funded {c['funded']}")
        if c["released"] + c["refunded"] + c["held"] != c["funded"]:
            problems.append(f"order {oid}: money created or lost: {dict(c)}")
        if state in TERMINAL and c["held"] != 0:
            problems.append(f"order {oid}: terminal ({state}) but escrow holds {c['held']}")
        if state in HOLDS_MONEY and c["held"] != services.total(order).minor:
            problems.append(f"order {oid}: {state} but escrow holds {c['held']} not the total")
        if state == OrderState.AWAITING_PAYMENT and c["held"] != 0:
            problems.append(f"order {oid}: unpaid but escrow holds {c['held']}")
    return problems


async def test_escrow_state_machine_and_ledger_keep_their_invariants() -> None:
    loop = asyncio.get_running_loop()
    seller = await make_user("seller")
    buyer = await make_user("buyer")
    figures = Figures()
    offset = [timedelta(0)]

    async def _wait(awaitable: Any) -> Any:
        return await awaitable

    def run(awaitable: Any) -> Any:
        """Run a DB call on the test's event loop (where the engine and pool live)."""
        return asyncio.run_coroutine_threadsafe(_wait(awaitable), loop).result(timeout=120)

    ACTORS = {
        "buyer": Actor(Role.BUYER, buyer.id), "seller": Actor(Role.SELLER, seller.id),
        "system": Actor.system(), "mediator": Actor(Role.MEDIATOR, None),
    }
    actor_names = st.sampled_from(sorted(ACTORS))

    class EscrowMachine(RuleBasedStateMachine):
        orders = Bundle("orders")

        def __init__(self) -> None:
            super().__init__()
            self.model: dict[int, OrderState] = {}
            self.payments: dict[int, list[str]] = {}
            self.claimed: set[int] = set()  # orders whose buyer is attached (a buyer is a party)

        @initialize()
        def start(self) -> None:
            figures.runs += 1

        def _apply(self, name: str, order_id: int, action: Action | None, role: Role | None,
                   coro: Any) -> None:
            """Run one command; the model follows the pure state machine when it is accepted."""
            figures.steps += 1
            before = self.model[order_id]
            try:
                run(coro)
            except DomainError as exc:
                figures.refused[name] += 1
                figures.reasons[f"{name}: {exc.message[:60]}"] += 1
                # a refused command is one the state machine (or a guard on top of it) refuses
                buyer_unknown = role == Role.BUYER and order_id not in self.claimed
                if name == "pay":  # the buyer claims the link while paying; an expired link refuses
                    order = run(services.get_order(order_id))
                    buyer_unknown = bool(order.pay_by and clock.aware(order.pay_by) <= clock.now())
                if action is not None and role is not None and can(before, action, role) \
                        and not buyer_unknown and name not in ("dispute", "settle"):
                    raise AssertionError(f"{name} by {role} refused in {before}: {exc.message}") from exc
                return
            figures.applied[name] += 1
            stored = OrderState(run(services.get_order(order_id)).state)
            self.model[order_id] = stored
            if action is not None and role is not None:
                assert can(before, action, role), f"{name} by {role} applied in {before}"
                assert role != Role.BUYER or order_id in self.claimed, "a stranger buyer acted"

        @precondition(lambda self: len(self.model) < 3)  # few orders, long histories
        @rule(target=orders, price=st.integers(1, 5_000_000), shipping=st.integers(0, 50_000),
              days=st.integers(1, 30))
        def create(self, price: int, shipping: int, days: int) -> int:
            figures.steps += 1
            order = run(services.create_order(seller.id, services.NewOrder(
                title="Property item", amount_minor=price, shipping_minor=shipping,
                inspection_days=days), actor=ACTORS["seller"]))
            figures.applied["create"] += 1
            self.model[order.id] = OrderState.AWAITING_PAYMENT
            self.payments[order.id] = []
            return order.id

        @rule(order_id=orders, succeed=st.sampled_from([True, True, True, False]))
        def pay(self, order_id: int, succeed: bool) -> None:
            async def go() -> None:
                payment = await services.start_payment(order_id, buyer.id)
                self.claimed.add(order_id)
                self.payments[order_id].append(payment.reference)
                outcome = await services.complete_payment(payment.reference, succeeded=succeed,
                                                          method="raast" if succeed else "")
                assert outcome.status in ("funded", "failed", "refunded"), outcome.status
            self._apply("pay", order_id, Action.FUND if succeed else None,
                        Role.BUYER if succeed else None, go())

        @rule(order_id=orders, data=st.data())
        def repeat_or_late_callback(self, order_id: int, data: st.DataObject) -> None:
            if not self.payments[order_id]:
                return
            reference = data.draw(st.sampled_from(self.payments[order_id]))
            self._apply("callback-again", order_id, None, None, services.complete_payment(
                reference, succeeded=True, method="card"))

        @rule(order_id=orders, who=actor_names)
        def ship(self, order_id: int, who: str) -> None:
            self._apply("ship", order_id, Action.SHIP, ACTORS[who].role, services.ship_order(
                order_id, carrier="TCS", tracking_number="T-1", actor=ACTORS[who]))

        @rule(order_id=orders, who=actor_names)
        def confirm(self, order_id: int, who: str) -> None:
            self._apply("confirm", order_id, Action.CONFIRM_DELIVERY, ACTORS[who].role,
                        services.confirm_delivery(order_id, actor=ACTORS[who]))

        @rule(order_id=orders, who=actor_names)
        def release(self, order_id: int, who: str) -> None:
            role = ACTORS[who].role
            # release_funds itself refuses buyers/sellers on a disputed order (the dispute decides)
            action = Action.RELEASE
            if self.model[order_id] == OrderState.DISPUTED and role not in (Role.MEDIATOR, Role.SYSTEM):
                action = None  # type: ignore[assignment]
            self._apply("release", order_id, action, role if action else None,
                        services.release_funds(order_id, actor=ACTORS[who]))

        @rule(order_id=orders, who=actor_names, now=st.sampled_from([True, False, False]))
        def cancel(self, order_id: int, who: str, now: bool = True) -> None:
            if not now:  # cancelling ends a history early; try it a third as often
                return
            self._apply("cancel", order_id, Action.CANCEL, ACTORS[who].role,
                        services.cancel_order(order_id, actor=ACTORS[who], reason="property"))

        @rule(order_id=orders)
        def dispute(self, order_id: int) -> None:
            async def go() -> None:
                async with write_transaction():
                    order = await services.load_order_for_update(order_id)
                    await services.hold_for_dispute(order, actor=ACTORS["buyer"])
            self._apply("dispute", order_id, Action.OPEN_DISPUTE, Role.BUYER, go())

        @rule(order_id=orders)
        def withdraw(self, order_id: int) -> None:
            async def go() -> None:
                async with write_transaction():
                    order = await services.load_order_for_update(order_id)
                    if order.state != OrderState.DISPUTED.value:
                        from trustdesk.core.errors import InvalidTransition
                        raise InvalidTransition("not disputed")
                    await services.resume_after_dispute(order, actor=ACTORS["buyer"])
            self._apply("withdraw", order_id, None, None, go())

        @rule(order_id=orders, share=st.sampled_from([0, 1, 2, 3, 4]), extra=st.integers(0, 3))
        def settle(self, order_id: int, share: int, extra: int) -> None:
            async def go() -> None:
                async with write_transaction():
                    order = await services.load_order_for_update(order_id)
                    if order.state != OrderState.DISPUTED.value:
                        from trustdesk.core.errors import InvalidTransition
                        raise InvalidTransition("not disputed")
                    held = await services.escrow_balance(order_id)
                    # 0, a quarter, half, all — and sometimes more than held (must be refused)
                    amount = held * share // 4 + (extra if share == 4 else 0)
                    await services.settle_dispute(order, refund_minor=amount,
                                                  actor=ACTORS["mediator"], reason="property")
            self._apply("settle", order_id, None, None, go())

        @rule(order_id=orders)
        def advance(self, order_id: int) -> None:
            """The happy path's next step by the right party (drives runs deep into the machine)."""
            state = self.model[order_id]
            if state == OrderState.AWAITING_PAYMENT:
                self.pay(order_id, True)
            elif state == OrderState.FUNDED:
                self.ship(order_id, "seller")
            elif state == OrderState.SHIPPED:
                self.confirm(order_id, "buyer")
            elif state == OrderState.DELIVERED:
                self.release(order_id, "buyer")
            elif state == OrderState.DISPUTED:
                self.withdraw(order_id)

        @rule(order_id=orders)
        def advance_again(self, order_id: int) -> None:
            if self.model[order_id] == OrderState.DISPUTED:
                self.settle(order_id, 2, 0)
            else:
                self.advance(order_id)

        @rule(hours=st.sampled_from([1, 6, 24, 72, 24 * 6, 24 * 15]))
        def time_passes(self, hours: int) -> None:
            figures.steps += 1
            offset[0] += timedelta(hours=hours)
            base = offset[0]
            clock.set_clock(lambda: datetime.now(UTC) + base)

        @invariant()
        def books_balance(self) -> None:
            problems = run(ledger_violations(list(self.model)))
            if problems:
                figures.violations += len(problems)
            assert not problems, problems
            if self.model:
                stored = {o["id"]: OrderState(o["state"]) for o in run(
                    Order.select(Order.id, Order.state).where(Order.id.is_in(list(self.model))))}
                assert stored == self.model

        def teardown(self) -> None:
            clock.set_clock(None)
            offset[0] = timedelta(0)

    EscrowMachine.TestCase.settings = settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck))
    try:
        await asyncio.to_thread(run_state_machine_as_test, EscrowMachine,
                                settings=EscrowMachine.TestCase.settings)
    finally:
        clock.set_clock(None)
        report = {
            "db": "postgresql" if is_postgres() else "sqlite", "runs": figures.runs,
            "steps": figures.steps, "applied": dict(figures.applied),
            "refused": dict(figures.refused), "refusal_reasons": dict(figures.reasons.most_common(12)),
            "violations": figures.violations,
            "orders": await Order.count(), "ledger_entries": await LedgerEntry.count(),
        }
        print("\nESCROW PROPERTY FIGURES", json.dumps(report, sort_keys=True))
        out = ROOT / "test-artifacts" / f"escrow-properties-{report['db']}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, sort_keys=True))
    assert figures.violations == 0
    assert figures.runs >= 1 and sum(figures.applied.values()) > 0
    _ = get_engine
