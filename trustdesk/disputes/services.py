"""Dispute commands. Each is one transaction: dispute state + order/ledger (via escrow) +
timeline + audit + outbox together. Web pages, the admin forms, the partner API and the
deadline jobs all call these."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from trustdesk.accounts.tables import User
from trustdesk.core import audit, deadlines, outbox
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import aware, now
from trustdesk.core.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from trustdesk.core.money import format_money
from trustdesk.db import load_for_update, update_versioned, write_transaction
from trustdesk.disputes import evidence as ev
from trustdesk.disputes import policy
from trustdesk.disputes.states import (
    LABELS,
    OUTCOME_LABELS,
    REASON_LABELS,
    Action,
    DisputeState,
    Outcome,
    Reason,
    Resolution,
    Wanted,
    next_actor,
    next_state,
)
from trustdesk.disputes.tables import Dispute, DisputeEvent, Evidence
from trustdesk.escrow.services import (
    can_open_dispute,
    escrow_balance,
    hold_for_dispute,
    load_order_for_update,
    resume_after_dispute,
    settle_dispute,
)
from trustdesk.escrow.tables import Order
from trustdesk.settings import get_settings

NEGOTIATION_BEFORE_MEDIATOR = timedelta(hours=48)
STATEMENT_MIN, STATEMENT_MAX = 10, 5000
REASONS_MIN = 20
MESSAGE_MAX = 4000
DEADLINE_COLUMNS = ("respond_by", "offer_answer_by", "return_ship_by", "return_receive_by",
                    "info_due_by", "decide_by")
S = DisputeState


# -- reads -----------------------------------------------------------------------------------

def viewer_role(dispute: Dispute, user: dict[str, Any] | None) -> Role:
    """The viewer's part in this dispute; NotFound for anyone else (ids cannot be probed)."""
    if user is not None:
        if user["id"] == dispute.buyer:
            return Role.BUYER
        if user["id"] == dispute.seller:
            return Role.SELLER
        if user.get("role") == Role.MEDIATOR.value:
            return Role.MEDIATOR
    raise NotFound("Dispute not found.")


async def get_dispute(dispute_id: int) -> Dispute:
    dispute = await Dispute.objects().where(Dispute.id == dispute_id).first()
    if dispute is None:
        raise NotFound("Dispute not found.")
    return dispute


async def get_dispute_for(dispute_id: int, user: dict[str, Any] | None) -> Dispute:
    dispute = await Dispute.objects().where(Dispute.id == dispute_id).first()
    if dispute is None:
        raise NotFound("Dispute not found.")
    viewer_role(dispute, user)
    return dispute


async def latest_for_order(order_id: int) -> Dispute | None:
    return await Dispute.objects().where(Dispute.order == order_id).order_by(
        Dispute.id, ascending=False).first()


async def list_events(dispute_id: int) -> list[dict[str, Any]]:
    rows = await DisputeEvent.select().where(DisputeEvent.dispute == dispute_id).order_by(DisputeEvent.id)
    for row in rows:
        row["created_at"] = aware(row["created_at"])
        if isinstance(row["data"], str):
            import json

            row["data"] = json.loads(row["data"] or "{}")
    return rows


async def list_evidence(dispute_id: int) -> list[dict[str, Any]]:
    rows = await Evidence.select().where(Evidence.dispute == dispute_id).order_by(Evidence.id)
    for row in rows:
        row["created_at"] = aware(row["created_at"])
    return rows


async def get_evidence_for(dispute_id: int, evidence_id: int, user: dict[str, Any] | None) -> dict[str, Any]:
    await get_dispute_for(dispute_id, user)
    row = await Evidence.select().where(
        (Evidence.id == evidence_id) & (Evidence.dispute == dispute_id)).first()
    if row is None:
        raise NotFound("Evidence not found.")
    return row


async def list_for_user(user: dict[str, Any]) -> list[Dispute]:
    if user["role"] == Role.MEDIATOR.value:
        return await Dispute.objects().order_by(Dispute.id, ascending=False).limit(200)
    return await Dispute.objects().where(
        (Dispute.buyer == user["id"]) | (Dispute.seller == user["id"])).order_by(
        Dispute.id, ascending=False).limit(200)


def binding_deadline(dispute: Dispute) -> tuple[str, datetime, str] | None:
    """(what, when, who must act) for the deadline that binds now, if any."""
    options = [
        ("respond_by", "The seller must answer the complaint", "seller"),
        ("offer_answer_by", "The buyer must answer the seller's offer", "buyer"),
        ("return_ship_by", "The buyer must ship the item back with tracking", "buyer"),
        ("return_receive_by", "The seller must confirm the returned item arrived", "seller"),
        ("info_due_by", "Information requested by the mediator is due", dispute.info_from or "mediator"),
        ("decide_by", "The mediator decides", "mediator"),
    ]
    for column, label, who in options:
        at = getattr(dispute, column)
        if at is not None and dispute.state in _deadline_states(column):
            return label, aware(at), who  # type: ignore[return-value]
    return None


def _deadline_states(column: str) -> frozenset[str]:
    from trustdesk.disputes.deadlines import DEADLINES

    for col, states, _ in DEADLINES.values():
        if col == column:
            return states
    return frozenset()


def whose_turn(dispute: Dispute) -> str | None:
    return next_actor(dispute.state, return_shipped=dispute.return_shipped_at is not None,
                      info_from=dispute.info_from)


# -- helpers ---------------------------------------------------------------------------------

async def _load(dispute_id: int) -> Dispute:
    dispute = await load_for_update(Dispute, dispute_id)
    if dispute is None:
        raise NotFound("Dispute not found.")
    return dispute  # type: ignore[return-value]


def _role(dispute: Dispute, actor: Actor) -> Role:
    """The role this actor plays here; strangers get NotFound."""
    if actor.role in (Role.SYSTEM, Role.MEDIATOR):
        return actor.role
    if actor.user_id is not None and actor.user_id == dispute.seller:
        return Role.SELLER
    if actor.user_id is not None and actor.user_id == dispute.buyer:
        return Role.BUYER
    raise NotFound("Dispute not found.")


def _cleared() -> dict[Any, Any]:
    return {getattr(Dispute, c): None for c in DEADLINE_COLUMNS}


async def _save(dispute: Dispute, values: dict[Any, Any]) -> None:
    await update_versioned(Dispute, dispute, {Dispute.updated_at: now(), **values})


async def _event(dispute: Dispute, actor: Actor, kind: str, body: str = "",
                 amount_minor: int | None = None, data: dict[str, Any] | None = None) -> None:
    import json

    role = actor.role.value if actor.role != Role.SYSTEM else "system"
    if actor.user_id is not None and actor.role not in (Role.MEDIATOR, Role.SYSTEM):
        role = _role(dispute, actor).value
    await DisputeEvent(dispute=dispute.id, created_at=now(), actor_role=role,
                       actor_id=actor.user_id, kind=kind, body=body, amount_minor=amount_minor,
                       data=json.dumps(data or {}, default=str)).save()


def _money(dispute: Dispute, minor: int | None) -> str:
    return format_money(int(minor or 0), dispute.currency)


def event_data(dispute: Dispute) -> dict[str, Any]:
    return {
        "dispute_id": dispute.id, "order_id": dispute.order, "state": dispute.state,
        "reason": dispute.reason, "wanted": dispute.wanted, "outcome": dispute.outcome,
        "resolution": dispute.resolution, "ruled_for": dispute.ruled_for,
        "refund_minor": dispute.refund_minor, "currency": dispute.currency,
        "mandated_refund": dispute.mandated_refund, "mediator_id": dispute.assigned_mediator,
        "overdue": dispute.overdue, "link": f"/disputes/{dispute.id}",
    }


async def _record(dispute: Dispute, action: str, actor: Actor, event_type: str, summary: str,
                  data: dict[str, Any] | None = None, next_by: str | None = "auto") -> None:
    await audit.record(f"disputes:dispute:{action}", subject_type="dispute", subject_id=dispute.id,
                       actor=actor, data={"state": dispute.state, **(data or {})})
    who = whose_turn(dispute) if next_by == "auto" else next_by
    await outbox.emit(event_type, subject_type="dispute", subject_id=dispute.id,
                      data={**event_data(dispute), "next_actor": who, "summary": summary,
                            "action": action, **(data or {})},
                      seller_id=dispute.seller, buyer_id=dispute.buyer)


def _schedule(dispute: Dispute, column: str) -> None:
    at = getattr(dispute, column)
    deadlines.schedule(f"dispute.{column}", dispute.id, dispute.version, aware(at))


def _money_facts(dispute: Dispute, held: int) -> policy.Order:
    return policy.Order(principal_minor=int(dispute.principal_minor),
                        shipping_minor=int(dispute.shipping_minor), held_minor=held)


def _text(value: str | None, field: str, what: str, minimum: int = STATEMENT_MIN,
          maximum: int = STATEMENT_MAX) -> str:
    text = (value or "").strip()
    if len(text) < minimum:
        raise ValidationFailed(f"{what} needs at least {minimum} characters.", field=field)
    if len(text) > maximum:
        raise ValidationFailed(f"{what} can be at most {maximum:,} characters.", field=field)
    return text


async def _escalate_values(dispute: Dispute) -> dict[Any, Any]:
    stamp = now()
    return {**_cleared(), Dispute.state: S.ESCALATED.value, Dispute.escalated_at: stamp,
            Dispute.decide_by: stamp + get_settings().mediation_window, Dispute.overdue: False}


async def _settle(dispute: Dispute, refund_minor: int, actor: Actor, reason: str) -> str:
    order = await load_order_for_update(dispute.order)
    state = await settle_dispute(order, refund_minor=refund_minor, actor=actor, reason=reason)
    return str(state)


async def _settle_values(dispute: Dispute, *, outcome: Outcome, resolution: Resolution,
                         refund_minor: int, actor: Actor, ruled_for: str | None = None,
                         mandated: bool = False, reason: str = "") -> dict[Any, Any]:
    """Money moves (escrow settles) and the values that close the dispute."""
    await _settle(dispute, refund_minor, actor, reason or f"dispute {dispute.id}: {outcome.value}")
    return {**_cleared(), Dispute.state: S.RESOLVED.value, Dispute.outcome: outcome.value,
            Dispute.resolution: resolution.value, Dispute.refund_minor: refund_minor,
            Dispute.ruled_for: ruled_for, Dispute.mandated_refund: mandated,
            Dispute.resolved_at: now(), Dispute.overdue: False, Dispute.info_from: None}


def _refund_outcome(refund: int, held: int) -> Outcome:
    return Outcome.FULL_REFUND if refund >= held else Outcome.PARTIAL_REFUND


# -- the buyer files -------------------------------------------------------------------------

async def open_dispute(order_id: int, *, reason: str, wanted: str, statement: str,
                       wanted_amount_minor: int | None = None,
                       uploads: list[ev.UploadLike] | None = None, actor: Actor) -> Dispute:
    """Buyer complains: order funded/shipped/delivered -> disputed; dispute awaiting_seller.

    Raises NotFound (not the buyer's order), NotAllowed (the seller), InvalidTransition (outside
    the window), ValidationFailed / EvidenceRejected (bad input; nothing is stored)."""
    order = await Order.objects().where(Order.id == order_id).first()
    if order is None or actor.user_id is None or actor.user_id not in (order.buyer, order.seller):
        raise NotFound("Order not found.")
    if actor.user_id != order.buyer:
        raise NotAllowed("Only the buyer of this order can file a complaint.")
    if reason not in {r.value for r in Reason}:
        raise ValidationFailed("Choose what went wrong.", field="reason")
    if wanted not in {w.value for w in Wanted}:
        raise ValidationFailed("Choose what you want to happen.", field="wanted")
    statement = _text(statement, "statement", "Your statement")
    total = int(order.amount_minor) + int(order.shipping_minor)
    if wanted == Wanted.PARTIAL_REFUND.value:
        if not wanted_amount_minor or wanted_amount_minor <= 0:
            raise ValidationFailed("Enter the amount you want back.", field="wanted_amount")
        if wanted_amount_minor >= total:
            raise ValidationFailed(f"A partial refund is less than what you paid "
                                   f"({format_money(total, order.currency)}); choose a full "
                                   "refund instead.", field="wanted_amount")
    else:
        wanted_amount_minor = None
    ok, why = can_open_dispute(order)
    if not ok:
        raise InvalidTransition(why, current_state=order.state)
    prepared = await ev.prepare_uploads(list(uploads or []))
    actor = Actor(Role.BUYER, actor.user_id, actor.via)
    async with write_transaction():
        order = await load_order_for_update(order_id)
        if order.buyer != actor.user_id:
            raise NotFound("Order not found.")
        await hold_for_dispute(order, actor=actor)
        stamp = now()
        dispute = Dispute(
            order=order.id, buyer=order.buyer, seller=order.seller, reason=reason, wanted=wanted,
            wanted_amount_minor=wanted_amount_minor, statement=statement, currency=order.currency,
            principal_minor=int(order.amount_minor), shipping_minor=int(order.shipping_minor),
            state=S.AWAITING_SELLER.value, version=1, opened_at=stamp, updated_at=stamp,
            respond_by=stamp + get_settings().response_window)
        await dispute.save()
        await _event(dispute, actor, "opened", statement, wanted_amount_minor,
                     {"reason": reason, "wanted": wanted})
        if prepared:
            await ev.check_quotas(dispute.id, actor.user_id, prepared)
            await ev.save_prepared(dispute, prepared, user_id=actor.user_id, party="buyer", actor=actor)
            await _event(dispute, actor, "evidence", "", None, {"files": len(prepared)})
        await _record(dispute, "opened", actor, "dispute.opened",
                      f"The buyer filed a complaint about “{order.title}” "
                      f"({REASON_LABELS[Reason(reason)].lower()}). The seller must answer.",
                      {"order_title": order.title, "files": len(prepared)})
        _schedule(dispute, "respond_by")
    return dispute


# -- the seller answers ----------------------------------------------------------------------

RESPONSES = ("accept_full_refund", "offer_partial", "offer_replacement", "contest")


async def respond(dispute_id: int, *, action: str, actor: Actor, amount_minor: int | None = None,
                  keep_item: bool = True, statement: str = "", return_address: str = "",
                  uploads: list[ev.UploadLike] | None = None) -> Dispute:
    """Seller answers (awaiting_seller): accept_full_refund -> resolved (money back);
    offer_partial / offer_replacement -> awaiting_buyer; contest -> escalated."""
    if action not in RESPONSES:
        raise ValidationFailed("Choose how you answer: accept a full refund, offer a partial "
                               "refund or a replacement, or contest.", field="action")
    prepared = await ev.prepare_uploads(list(uploads or [])) if uploads else []
    async with write_transaction():
        dispute = await _load(dispute_id)
        role = _role(dispute, actor)
        if role == Role.SELLER:
            actor = Actor(Role.SELLER, actor.user_id, actor.via)
        stamp = now()
        first = {Dispute.seller_responded_at: stamp} if dispute.seller_responded_at is None else {}
        held = await escrow_balance(dispute.order)
        if action == "accept_full_refund":
            next_state(dispute.state, Action.ACCEPT_FULL_REFUND, role)
            values = await _settle_values(dispute, outcome=Outcome.FULL_REFUND,
                                          resolution=Resolution.AGREEMENT, refund_minor=held,
                                          actor=actor, reason="seller accepted a full refund")
            await _save(dispute, {**first, **values})
            await _event(dispute, actor, "accepted_full_refund", statement.strip()[:STATEMENT_MAX], held)
            await _record(dispute, "full-refund-accepted", actor, "dispute.resolved",
                          f"The seller accepted a full refund of {_money(dispute, held)}.",
                          {"refund_minor": held})
        elif action in ("offer_partial", "offer_replacement"):
            next_state(dispute.state, Action.OFFER, role)
            note = (statement or "").strip()
            if len(note) > STATEMENT_MAX:
                raise ValidationFailed("Keep the note under 5,000 characters.", field="statement")
            values: dict[Any, Any] = {Dispute.offer_note: note, Dispute.offer_keep_item: True,
                                      Dispute.offer_amount_minor: None}
            if action == "offer_partial":
                if not isinstance(amount_minor, int) or amount_minor <= 0:
                    raise ValidationFailed("Enter the amount you offer to refund.", field="amount")
                if amount_minor >= held:
                    raise ValidationFailed(f"A partial refund is less than escrow holds "
                                           f"({_money(dispute, held)}); accept a full refund "
                                           "instead.", field="amount")
                if not keep_item and len(return_address.strip()) < 10:
                    raise ValidationFailed("Give the address the buyer should send the item to.",
                                           field="return_address")
                values.update({Dispute.offer_kind: "partial_refund",
                               Dispute.offer_amount_minor: amount_minor,
                               Dispute.offer_keep_item: bool(keep_item),
                               Dispute.return_address: "" if keep_item else return_address.strip()[:1000]})
                summary = (f"The seller offers a partial refund of {_money(dispute, amount_minor)}"
                           f"{'' if keep_item else ' if the item is sent back'}. The buyer must answer.")
            else:
                values[Dispute.offer_kind] = "replacement"
                summary = "The seller offers a replacement. The buyer must answer."
            await _save(dispute, {**first, **_cleared(), Dispute.state: S.AWAITING_BUYER.value,
                                  Dispute.offer_answer_by: stamp + get_settings().offer_window,
                                  **values})
            await _event(dispute, actor, "offer", note, dispute.offer_amount_minor,
                         {"offer_kind": dispute.offer_kind, "keep_item": dispute.offer_keep_item})
            await _record(dispute, "offered", actor, "dispute.updated", summary,
                          {"offer_kind": dispute.offer_kind,
                           "offer_amount_minor": dispute.offer_amount_minor})
            _schedule(dispute, "offer_answer_by")
        else:
            next_state(dispute.state, Action.CONTEST, role)
            text = _text(statement, "statement", "Your statement")
            await _save(dispute, {**first, **await _escalate_values(dispute)})
            await _event(dispute, actor, "contested", text)
            await _record(dispute, "contested", actor, "dispute.escalated",
                          "The seller contests the complaint. A mediator will decide.")
            _schedule(dispute, "decide_by")
        if prepared:
            await _file(dispute, prepared, actor, role)
    return dispute


async def accept_full_refund(dispute_id: int, *, actor: Actor, statement: str = "") -> Dispute:
    return await respond(dispute_id, action="accept_full_refund", actor=actor, statement=statement)


async def offer_partial(dispute_id: int, *, amount_minor: int, keep_item: bool = True,
                        statement: str = "", return_address: str = "", actor: Actor) -> Dispute:
    return await respond(dispute_id, action="offer_partial", amount_minor=amount_minor,
                         keep_item=keep_item, statement=statement, return_address=return_address,
                         actor=actor)


async def offer_replacement(dispute_id: int, *, statement: str = "", actor: Actor) -> Dispute:
    return await respond(dispute_id, action="offer_replacement", statement=statement, actor=actor)


async def contest(dispute_id: int, *, statement: str, actor: Actor,
                  uploads: list[ev.UploadLike] | None = None) -> Dispute:
    return await respond(dispute_id, action="contest", statement=statement, uploads=uploads,
                         actor=actor)


# -- the buyer answers -----------------------------------------------------------------------

async def accept_offer(dispute_id: int, *, actor: Actor) -> Dispute:
    """Buyer accepts (awaiting_buyer): partial refund -> resolved and paid; partial refund with
    return -> awaiting_return; replacement -> resolved and escrow resumes."""
    async with write_transaction():
        dispute = await _load(dispute_id)
        role = _role(dispute, actor)
        if dispute.offer_kind == "partial_refund" and not dispute.offer_keep_item:
            next_state(dispute.state, Action.ACCEPT_RETURN_OFFER, role)
            stamp = now()
            await _save(dispute, {**_cleared(), Dispute.state: S.AWAITING_RETURN.value,
                                  Dispute.ruled_refund_minor: dispute.offer_amount_minor,
                                  Dispute.return_ship_by: stamp + get_settings().return_window})
            await _event(dispute, actor, "offer_accepted", "", dispute.offer_amount_minor)
            await _record(dispute, "offer-accepted", actor, "dispute.updated",
                          f"The buyer accepted {_money(dispute, dispute.offer_amount_minor)} back "
                          "after returning the item. The buyer must ship it back with tracking.")
            _schedule(dispute, "return_ship_by")
            return dispute
        next_state(dispute.state, Action.ACCEPT_OFFER, role)
        if dispute.offer_kind == "replacement":
            order = await load_order_for_update(dispute.order)
            await resume_after_dispute(order, actor=actor)
            await _save(dispute, {**_cleared(), Dispute.state: S.RESOLVED.value,
                                  Dispute.outcome: Outcome.REPLACEMENT.value,
                                  Dispute.resolution: Resolution.AGREEMENT.value,
                                  Dispute.refund_minor: 0, Dispute.resolved_at: now()})
            await _event(dispute, actor, "offer_accepted", "The buyer accepted a replacement.")
            await _record(dispute, "offer-accepted", actor, "dispute.resolved",
                          "The buyer accepted a replacement; the order continues where it was.")
            return dispute
        held = await escrow_balance(dispute.order)
        refund = int(dispute.offer_amount_minor or 0)
        values = await _settle_values(dispute, outcome=_refund_outcome(refund, held),
                                      resolution=Resolution.AGREEMENT, refund_minor=refund,
                                      actor=actor, reason="buyer accepted the seller's offer")
        await _save(dispute, values)
        await _event(dispute, actor, "offer_accepted", "", refund)
        await _record(dispute, "offer-accepted", actor, "dispute.resolved",
                      f"The buyer accepted a refund of {_money(dispute, refund)}; the rest goes "
                      "to the seller.", {"refund_minor": refund})
    return dispute


async def reject_offer(dispute_id: int, *, actor: Actor, statement: str = "") -> Dispute:
    """Buyer rejects the offer: awaiting_buyer -> escalated."""
    async with write_transaction():
        dispute = await _load(dispute_id)
        next_state(dispute.state, Action.REJECT_OFFER, _role(dispute, actor))
        await _save(dispute, await _escalate_values(dispute))
        await _event(dispute, actor, "offer_rejected", (statement or "").strip()[:STATEMENT_MAX])
        await _record(dispute, "offer-rejected", actor, "dispute.escalated",
                      "The buyer rejected the seller's offer. A mediator will decide.")
        _schedule(dispute, "decide_by")
    return dispute


async def withdraw(dispute_id: int, *, actor: Actor, statement: str = "") -> Dispute:
    """Buyer withdraws: dispute withdrawn; escrow resumes where it was with the window left."""
    async with write_transaction():
        dispute = await _load(dispute_id)
        role = _role(dispute, actor)
        next_state(dispute.state, Action.WITHDRAW, role)
        order = await load_order_for_update(dispute.order)
        await resume_after_dispute(order, actor=Actor(Role.BUYER, actor.user_id, actor.via))
        await _save(dispute, {**_cleared(), Dispute.state: S.WITHDRAWN.value,
                              Dispute.outcome: Outcome.WITHDRAWN.value,
                              Dispute.resolution: Resolution.WITHDRAWN.value,
                              Dispute.refund_minor: 0, Dispute.resolved_at: now(),
                              Dispute.overdue: False, Dispute.info_from: None})
        await _event(dispute, actor, "withdrawn", (statement or "").strip()[:STATEMENT_MAX])
        await _record(dispute, "withdrawn", actor, "dispute.resolved",
                      "The buyer withdrew the complaint; the order continues where it was.")
    return dispute


async def request_mediator(dispute_id: int, *, actor: Actor) -> Dispute:
    """Either party, after 48 h of negotiation: awaiting_seller/awaiting_buyer -> escalated."""
    async with write_transaction():
        dispute = await _load(dispute_id)
        next_state(dispute.state, Action.REQUEST_MEDIATOR, _role(dispute, actor))
        from_at = aware(dispute.opened_at) + NEGOTIATION_BEFORE_MEDIATOR  # type: ignore[operator]
        if now() < from_at:
            from trustdesk.core.templating import fmt_dt

            raise InvalidTransition(f"Try to settle it between you first: you can ask for a "
                                    f"mediator from {fmt_dt(from_at)}.", current_state=dispute.state)
        await _save(dispute, await _escalate_values(dispute))
        await _event(dispute, actor, "mediator_requested")
        await _record(dispute, "mediator-requested", actor, "dispute.escalated",
                      f"The {_role(dispute, actor)} asked for a mediator. A mediator will decide.")
        _schedule(dispute, "decide_by")
    return dispute


# -- conversation and evidence ---------------------------------------------------------------

async def post_message(dispute_id: int, *, body: str, actor: Actor) -> Dispute:
    """A message in the three-way conversation (open disputes only)."""
    text = _text(body, "body", "A message", minimum=1, maximum=MESSAGE_MAX)
    async with write_transaction():
        dispute = await _load(dispute_id)
        role = _role(dispute, actor)
        if dispute.state not in {s.value for s in (S.AWAITING_SELLER, S.AWAITING_BUYER,
                                                      S.ESCALATED, S.AWAITING_RETURN)}:
            raise InvalidTransition("This dispute is closed; messages can no longer be added.",
                                    current_state=dispute.state)
        answered = dispute.info_from is not None and dispute.info_from == role.value
        if answered:
            await _save(dispute, {Dispute.info_from: None, Dispute.info_due_by: None,
                                  Dispute.info_question: ""})
        await _event(dispute, actor, "message", text)
        others = {"buyer": "seller", "seller": "buyer"}.get(role.value, "buyer")
        await _record(dispute, "message-posted", actor, "dispute.updated",
                      f"New message from the {role.value} in the dispute.",
                      {"sha256": hashlib.sha256(text.encode()).hexdigest(), "chars": len(text),
                       "info_answered": answered, "from": role.value},
                      next_by="mediator" if answered else others)
    return dispute


async def _file(dispute: Dispute, prepared: list[ev.Prepared], actor: Actor, role: Role) -> list[Any]:
    assert actor.user_id is not None
    await ev.check_quotas(dispute.id, actor.user_id, prepared)
    rows = await ev.save_prepared(dispute, prepared, user_id=actor.user_id, party=role.value,
                                  actor=actor)
    await _event(dispute, actor, "evidence", "", None,
                 {"files": len(rows), "evidence_ids": [r.id for r in rows]})
    return rows


async def add_evidence(dispute_id: int, *, uploads: list[ev.UploadLike], actor: Actor,
                       note: str = "") -> list[Evidence]:
    """File evidence (parties and mediators, open disputes only). Raises EvidenceRejected,
    EvidenceTooLarge, NotFound, InvalidTransition; a refused batch stores nothing."""
    if actor.user_id is None:
        raise NotAllowed("Evidence is filed by a person.")
    dispute = await Dispute.objects().where(Dispute.id == dispute_id).first()
    if dispute is None:
        raise NotFound("Dispute not found.")
    _role(dispute, actor)
    if not uploads:
        raise ev.EvidenceRejected("Choose at least one file.", field="evidence")
    prepared = await ev.prepare_uploads(list(uploads))
    async with write_transaction():
        dispute = await _load(dispute_id)
        role = _role(dispute, actor)
        if dispute.state not in {s.value for s in (S.AWAITING_SELLER, S.AWAITING_BUYER,
                                                      S.ESCALATED, S.AWAITING_RETURN)}:
            raise InvalidTransition("This dispute is closed; evidence can no longer be added.",
                                    current_state=dispute.state)
        rows = await _file(dispute, prepared, actor, role)
        answered = dispute.info_from is not None and dispute.info_from == role.value
        if answered:
            await _save(dispute, {Dispute.info_from: None, Dispute.info_due_by: None,
                                  Dispute.info_question: ""})
        if note.strip():
            await _event(dispute, actor, "message", note.strip()[:MESSAGE_MAX])
        await _record(dispute, "evidence-added", actor, "dispute.updated",
                      f"The {role.value} added {len(rows)} evidence file"
                      f"{'s' if len(rows) != 1 else ''}.",
                      {"evidence": [{"id": r.id, "sha256": r.sha256} for r in rows]},
                      next_by="mediator" if answered else None)
    return rows


# -- mediators -------------------------------------------------------------------------------

async def assign_mediator(dispute_id: int, *, actor: Actor) -> Dispute:
    """A mediator takes an escalated dispute (or takes over an overdue one)."""
    if actor.role != Role.MEDIATOR or actor.user_id is None:
        raise NotAllowed("Only mediators take disputes.")
    async with write_transaction():
        dispute = await _load(dispute_id)
        next_state(dispute.state, Action.ASSIGN, Role.MEDIATOR)
        if dispute.assigned_mediator == actor.user_id:
            return dispute
        if dispute.assigned_mediator is not None and not dispute.overdue:
            raise InvalidTransition("Another mediator already has this dispute.",
                                    current_state=dispute.state)
        values: dict[Any, Any] = {Dispute.assigned_mediator: actor.user_id}
        if dispute.overdue:
            values.update({Dispute.overdue: False,
                           Dispute.decide_by: now() + get_settings().mediation_window})
        await _save(dispute, values)
        await _event(dispute, actor, "assigned")
        await _record(dispute, "assigned", actor, "dispute.updated",
                      "A mediator is now handling the dispute.", {"mediator_id": actor.user_id},
                      next_by="mediator")
        if Dispute.decide_by in values:
            _schedule(dispute, "decide_by")
    return dispute


def _require_assigned(dispute: Dispute, actor: Actor) -> None:
    if actor.role != Role.MEDIATOR or actor.user_id is None:
        raise NotAllowed("Only mediators can do this.")
    if dispute.assigned_mediator != actor.user_id:
        raise NotAllowed("Assign this dispute to yourself first (“Assign to me”).")


async def request_information(dispute_id: int, *, party: str, question: str, due_at: datetime,
                              actor: Actor) -> Dispute:
    """Mediator asks the buyer or seller for something by a deadline (escalated disputes)."""
    if party not in ("buyer", "seller"):
        raise ValidationFailed("Ask the buyer or the seller.", field="party")
    question = _text(question, "question", "The question")
    due_at = aware(due_at)  # type: ignore[assignment]
    if due_at <= now() + timedelta(hours=1) or due_at > now() + timedelta(days=14):
        raise ValidationFailed("The deadline must be between 1 hour and 14 days from now.",
                               field="due_at")
    async with write_transaction():
        dispute = await _load(dispute_id)
        next_state(dispute.state, Action.REQUEST_INFO, Role.MEDIATOR)
        _require_assigned(dispute, actor)
        await _save(dispute, {Dispute.info_from: party, Dispute.info_question: question,
                              Dispute.info_due_by: due_at})
        await _event(dispute, actor, "info_requested", question, None, {"party": party,
                                                                        "due_at": due_at.isoformat()})
        await _record(dispute, "info-requested", actor, "dispute.updated",
                      f"The mediator asks the {party}: {question[:140]}", {"party": party},
                      next_by=party)
        _schedule(dispute, "info_due_by")
    return dispute


async def rule(dispute_id: int, *, outcome: str, reasons: str, actor: Actor,
               amount_minor: int | None = None, include_shipping: bool = False,
               return_address: str = "") -> Dispute:
    """Mediator decides an escalated dispute: full/partial refund or release -> resolved
    (money moves); refund_after_return -> awaiting_return. An upheld quality complaint gets
    at least the principal (policy.py) or the ruling is refused with the rule quoted."""
    reasons = _text(reasons, "reasons", "The written reasons", minimum=REASONS_MIN)
    if outcome not in {o.value for o in (Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND,
                                         Outcome.REFUND_AFTER_RETURN, Outcome.RELEASE_TO_SELLER)}:
        raise ValidationFailed("Choose a ruling: full refund, partial refund, refund after "
                               "return, or release to seller.", field="outcome")
    async with write_transaction():
        dispute = await _load(dispute_id)
        action = {"release_to_seller": Action.RULE_RELEASE,
                  "refund_after_return": Action.RULE_RETURN}.get(outcome, Action.RULE_REFUND)
        next_state(dispute.state, action, Role.MEDIATOR)
        _require_assigned(dispute, actor)
        held = await escrow_balance(dispute.order)
        refund = policy.ruling_refund(dispute.reason, outcome, _money_facts(dispute, held),
                                      amount_minor=amount_minor, include_shipping=include_shipping)
        stamp = now()
        ruling = {Dispute.ruling_reasons: reasons, Dispute.ruled_by: actor.user_id,
                  Dispute.ruled_at: stamp}
        mandated = policy.is_quality(dispute.reason) and refund > 0
        if outcome == "refund_after_return":
            if len(return_address.strip()) < 10:
                raise ValidationFailed("Give the address the buyer must send the item to.",
                                       field="return_address")
            await _save(dispute, {**_cleared(), **ruling, Dispute.state: S.AWAITING_RETURN.value,
                                  Dispute.ruled_refund_minor: refund, Dispute.ruled_for: "buyer",
                                  Dispute.mandated_refund: mandated, Dispute.overdue: False,
                                  Dispute.info_from: None,
                                  Dispute.return_address: return_address.strip()[:1000],
                                  Dispute.return_ship_by: stamp + get_settings().return_window})
            await _event(dispute, actor, "ruling", reasons, refund, {"outcome": outcome})
            await _record(dispute, "ruled", actor, "dispute.updated",
                          f"The mediator ruled: {_money(dispute, refund)} back after the item is "
                          "returned. The buyer must ship it back with tracking.",
                          {"outcome": outcome, "refund_minor": refund})
            _schedule(dispute, "return_ship_by")
            return dispute
        if outcome == "release_to_seller":
            values = await _settle_values(dispute, outcome=Outcome.RELEASE_TO_SELLER,
                                          resolution=Resolution.RULING, refund_minor=0,
                                          actor=actor, ruled_for="seller",
                                          reason="mediator ruled for the seller")
        else:
            values = await _settle_values(dispute, outcome=_refund_outcome(refund, held)
                                          if outcome == "partial_refund" else Outcome.FULL_REFUND,
                                          resolution=Resolution.RULING, refund_minor=refund,
                                          actor=actor, ruled_for="buyer", mandated=mandated,
                                          reason="mediator ruled for the buyer")
        await _save(dispute, {**values, **ruling})
        await _event(dispute, actor, "ruling", reasons, refund, {"outcome": outcome})
        await _record(dispute, "ruled", actor, "dispute.resolved",
                      f"The mediator ruled: {OUTCOME_LABELS[Outcome(outcome)].lower()}"
                      f"{'' if not refund else ' of ' + _money(dispute, refund)}.",
                      {"outcome": outcome, "refund_minor": refund, "reasons": reasons})
    return dispute


# -- returns ---------------------------------------------------------------------------------

async def mark_return_shipped(dispute_id: int, *, carrier: str, tracking: str, actor: Actor) -> Dispute:
    """Buyer sent the item back: the seller has return_window to confirm it arrived."""
    from trustdesk.escrow.services import CARRIERS

    carrier = (carrier or "").strip()
    tracking = (tracking or "").strip()
    if carrier not in CARRIERS:
        raise ValidationFailed(f"Choose a courier: {', '.join(CARRIERS)}.", field="carrier")
    if not tracking or len(tracking) > 80:
        raise ValidationFailed("Enter the courier's tracking number.", field="tracking")
    async with write_transaction():
        dispute = await _load(dispute_id)
        next_state(dispute.state, Action.MARK_RETURN_SHIPPED, _role(dispute, actor))
        if dispute.return_shipped_at is not None:
            raise InvalidTransition("The return has already been reported as shipped.",
                                    current_state=dispute.state)
        stamp = now()
        await _save(dispute, {**_cleared(), Dispute.return_carrier: carrier,
                              Dispute.return_tracking: tracking, Dispute.return_shipped_at: stamp,
                              Dispute.return_receive_by: stamp + get_settings().return_window})
        await _event(dispute, actor, "return_shipped", f"{carrier} {tracking}")
        await _record(dispute, "return-shipped", actor, "dispute.updated",
                      f"The buyer shipped the item back ({carrier}, {tracking}). The seller must "
                      "confirm it arrived.", {"carrier": carrier, "tracking": tracking})
        _schedule(dispute, "return_receive_by")
    return dispute


async def confirm_return_received(dispute_id: int, *, actor: Actor) -> Dispute:
    """Seller (or the mediator) confirms the return arrived: the refund is paid; resolved."""
    async with write_transaction():
        dispute = await _load(dispute_id)
        role = _role(dispute, actor)
        next_state(dispute.state, Action.CONFIRM_RETURN, role)
        if role == Role.MEDIATOR:
            _require_assigned(dispute, actor)
        refund = int(dispute.ruled_refund_minor or 0)
        held = await escrow_balance(dispute.order)
        resolution = Resolution.RULING if dispute.ruled_by else Resolution.AGREEMENT
        values = await _settle_values(dispute, outcome=Outcome.REFUND_AFTER_RETURN,
                                      resolution=resolution, refund_minor=min(refund, held),
                                      actor=actor, ruled_for=dispute.ruled_for,
                                      mandated=dispute.mandated_refund,
                                      reason="returned item received")
        await _save(dispute, {**values, Dispute.return_received_at: now()})
        await _event(dispute, actor, "return_received", "", refund)
        await _record(dispute, "return-received", actor, "dispute.resolved",
                      f"The returned item arrived; {_money(dispute, refund)} was refunded.",
                      {"refund_minor": refund})
    return dispute


# -- deadline lapses (called by jobs; idempotent) ----------------------------------------------

def _passed(at: datetime | None) -> bool:
    return at is not None and aware(at) <= now()  # type: ignore[operator]


SYSTEM = Actor.system()


async def lapse_seller_response(dispute_id: int) -> Dispute | None:
    """Seller silent past respond_by: quality complaint -> mandated refund (at least the
    principal) and the order settles; other reasons -> escalated. None if nothing to do."""
    async with write_transaction():
        dispute = await load_for_update(Dispute, dispute_id)
        if dispute is None or dispute.state != S.AWAITING_SELLER.value or not _passed(dispute.respond_by):
            return None
        if policy.is_quality(dispute.reason):
            next_state(dispute.state, Action.LAPSE_RESPONSE_MANDATED, Role.SYSTEM)
            held = await escrow_balance(dispute.order)
            refund = policy.lapse_refund(dispute.reason, dispute.wanted, dispute.wanted_amount_minor,
                                         _money_facts(dispute, held))
            values = await _settle_values(dispute, outcome=_refund_outcome(refund, held),
                                          resolution=Resolution.MANDATED, refund_minor=refund,
                                          actor=SYSTEM, ruled_for="buyer", mandated=True,
                                          reason="seller did not answer a quality complaint")
            await _save(dispute, values)
            await _event(dispute, SYSTEM, "mandated_refund", policy.MANDATED_REFUND_RULE, refund)
            await _record(dispute, "mandated-refund", SYSTEM, "dispute.resolved",
                          f"The seller did not answer in time, so the rule refunds "
                          f"{_money(dispute, refund)} to the buyer.", {"refund_minor": refund})
            return dispute
        next_state(dispute.state, Action.LAPSE_RESPONSE_ESCALATE, Role.SYSTEM)
        await _save(dispute, await _escalate_values(dispute))
        await _event(dispute, SYSTEM, "escalated", "The seller did not answer in time.")
        await _record(dispute, "response-lapsed", SYSTEM, "dispute.escalated",
                      "The seller did not answer in time. A mediator will decide.")
        _schedule(dispute, "decide_by")
        return dispute


async def lapse_offer_answer(dispute_id: int) -> Dispute | None:
    """Buyer silent on an offer past offer_answer_by -> escalated."""
    async with write_transaction():
        dispute = await load_for_update(Dispute, dispute_id)
        if dispute is None or dispute.state != S.AWAITING_BUYER.value or not _passed(dispute.offer_answer_by):
            return None
        next_state(dispute.state, Action.LAPSE_OFFER, Role.SYSTEM)
        await _save(dispute, await _escalate_values(dispute))
        await _event(dispute, SYSTEM, "escalated", "The buyer did not answer the offer in time.")
        await _record(dispute, "offer-lapsed", SYSTEM, "dispute.escalated",
                      "The buyer did not answer the offer in time. A mediator will decide.")
        _schedule(dispute, "decide_by")
        return dispute


async def lapse_return_shipment(dispute_id: int) -> Dispute | None:
    """Buyer never shipped the return: the ruling falls back to release to the seller."""
    async with write_transaction():
        dispute = await load_for_update(Dispute, dispute_id)
        if (dispute is None or dispute.state != S.AWAITING_RETURN.value
                or dispute.return_shipped_at is not None or not _passed(dispute.return_ship_by)):
            return None
        next_state(dispute.state, Action.LAPSE_RETURN_SHIPMENT, Role.SYSTEM)
        values = await _settle_values(dispute, outcome=Outcome.RELEASE_TO_SELLER,
                                      resolution=Resolution.LAPSE, refund_minor=0, actor=SYSTEM,
                                      ruled_for="seller", reason="return not shipped in time")
        await _save(dispute, {**values, Dispute.mandated_refund: False})
        await _event(dispute, SYSTEM, "return_lapsed", "The item was not shipped back in time.")
        await _record(dispute, "return-shipment-lapsed", SYSTEM, "dispute.resolved",
                      "The item was not shipped back in time, so the payment goes to the seller.")
        return dispute


async def lapse_return_receipt(dispute_id: int) -> Dispute | None:
    """Seller never confirmed the shipped return: the refund is paid anyway."""
    async with write_transaction():
        dispute = await load_for_update(Dispute, dispute_id)
        if (dispute is None or dispute.state != S.AWAITING_RETURN.value
                or dispute.return_shipped_at is None or not _passed(dispute.return_receive_by)):
            return None
        next_state(dispute.state, Action.LAPSE_RETURN_RECEIPT, Role.SYSTEM)
        held = await escrow_balance(dispute.order)
        refund = min(int(dispute.ruled_refund_minor or 0), held)
        values = await _settle_values(dispute, outcome=Outcome.REFUND_AFTER_RETURN,
                                      resolution=Resolution.LAPSE, refund_minor=refund,
                                      actor=SYSTEM, ruled_for=dispute.ruled_for or "buyer",
                                      mandated=dispute.mandated_refund,
                                      reason="seller did not confirm the return in time")
        await _save(dispute, values)
        await _event(dispute, SYSTEM, "return_receipt_lapsed",
                     "The seller did not confirm the return in time; the refund is paid.", refund)
        await _record(dispute, "return-receipt-lapsed", SYSTEM, "dispute.resolved",
                      f"The seller did not confirm the returned item in time; "
                      f"{_money(dispute, refund)} was refunded.", {"refund_minor": refund})
        return dispute


async def _flag_overdue(dispute_id: int, column: str, why: str, action: str) -> Dispute | None:
    async with write_transaction():
        dispute = await load_for_update(Dispute, dispute_id)
        if dispute is None or dispute.state != S.ESCALATED.value or not _passed(getattr(dispute, column)):
            return None
        next_state(dispute.state, Action.FLAG_OVERDUE, Role.SYSTEM)
        values: dict[Any, Any] = {Dispute.overdue: True, getattr(Dispute, column): None}
        if column == "info_due_by":
            values.update({Dispute.info_from: None})
        await _save(dispute, values)
        await _event(dispute, SYSTEM, "overdue", why)
        await _record(dispute, action, SYSTEM, "dispute.updated", why,
                      {"notify": "mediators"}, next_by="mediator")
        return dispute


async def lapse_info_request(dispute_id: int) -> Dispute | None:
    """Requested information not given by info_due_by: flagged overdue, mediators notified."""
    return await _flag_overdue(dispute_id, "info_due_by",
                               "The requested information did not arrive in time.", "info-lapsed")


async def lapse_mediation(dispute_id: int) -> Dispute | None:
    """No ruling by decide_by: flagged overdue (any mediator may take it), mediators notified."""
    return await _flag_overdue(dispute_id, "decide_by",
                               "The mediator's decision is overdue; any mediator may take over.",
                               "mediation-lapsed")


# -- for other domains -----------------------------------------------------------------------

async def mediator_ids() -> list[int]:
    rows = await User.select(User.id).where(User.role == Role.MEDIATOR.value)
    return [r["id"] for r in rows]


def describe(dispute: Dispute) -> dict[str, Any]:
    """Labels pages use."""
    return {
        "state_label": LABELS[DisputeState(dispute.state)],
        "reason_label": REASON_LABELS[Reason(dispute.reason)],
        "outcome_label": OUTCOME_LABELS[Outcome(dispute.outcome)] if dispute.outcome else "",
        "turn": whose_turn(dispute),
        "deadline": binding_deadline(dispute),
    }
