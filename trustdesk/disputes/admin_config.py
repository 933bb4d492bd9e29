"""The mediators' disputes view in Piccolo Admin: read-only tables, and action forms that call
the dispute services (the only way the admin changes a dispute or an order)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from piccolo_admin.endpoints import FormConfig, TableConfig
from piccolo_api.crud.endpoints import OrderBy
from pydantic import BaseModel, Field

from trustdesk.admin import read_only
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import now
from trustdesk.core.errors import DomainError
from trustdesk.core.money import format_money
from trustdesk.disputes import policy, services
from trustdesk.disputes.forms import amount_minor
from trustdesk.disputes.tables import Dispute, DisputeEvent, Evidence

GROUP = "Disputes"


def _mediator(request: Any) -> Actor:
    """The signed-in admin user, who must be a mediator (Piccolo Admin sets request.user.user)."""
    user = getattr(getattr(request, "user", None), "user", None)
    if user is None or getattr(user, "role", None) != Role.MEDIATOR.value:
        raise ValueError("Only mediators can do this.")
    return Actor(Role.MEDIATOR, int(user.id), via="admin")


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a service; domain errors become ValueError, which Piccolo Admin shows in the form."""
    try:
        return await fn(*args, **kwargs)
    except DomainError as exc:
        raise ValueError(exc.message) from None


class AssignModel(BaseModel):
    dispute_id: int = Field(description="The dispute's number (see the Disputes table).")


class InfoModel(BaseModel):
    dispute_id: int
    party: Literal["buyer", "seller"] = Field(default="seller", description="buyer or seller")
    question: str = Field(description="What they must send or explain (at least 10 characters).")
    due_in_hours: int = Field(default=48, description="Deadline, in hours from now (1 to 336).")


Ruling = Literal["full_refund", "partial_refund", "refund_after_return", "release_to_seller"]


class RuleModel(BaseModel):
    dispute_id: int
    outcome: Ruling = Field(default="full_refund", description="full_refund, partial_refund, "
                            "refund_after_return or release_to_seller")
    amount: str = Field(default="", description="Partial refund amount (e.g. 1,500). For refund "
                        "after return, leave empty to refund the item price (+ shipping if ticked).")
    include_shipping: bool = Field(default=False, description="Also refund the shipping fee.")
    reasons: str = Field(description="Written reasons, shown to both parties (at least 20 "
                         "characters).")
    return_address: str = Field(default="", description="Only for refund after return: where the "
                                "buyer sends the item.")


class ConfirmReturnModel(BaseModel):
    dispute_id: int


async def assign_to_me(request: Any, data: AssignModel) -> str:
    actor = _mediator(request)
    await _call(services.assign_mediator, data.dispute_id, actor=actor)
    return f"Dispute {data.dispute_id} is assigned to you."


async def ask_for_information(request: Any, data: InfoModel) -> str:
    actor = _mediator(request)
    if not 1 <= data.due_in_hours <= 336:
        raise ValueError("The deadline must be 1 to 336 hours from now.")
    due = now() + timedelta(hours=data.due_in_hours, minutes=1)
    await _call(services.request_information, data.dispute_id, party=data.party,
                question=data.question, due_at=due, actor=actor)
    return f"Asked the {data.party}; they have {data.due_in_hours} hours to answer."


async def rule_dispute(request: Any, data: RuleModel) -> str:
    actor = _mediator(request)
    try:
        dispute = await services.get_dispute(data.dispute_id)
        amount = amount_minor(data.amount, dispute.currency, "amount", required=False)
    except DomainError as exc:
        raise ValueError(exc.message) from None
    done = await _call(services.rule, data.dispute_id, outcome=data.outcome,
                       amount_minor=amount, include_shipping=data.include_shipping,
                       reasons=data.reasons, return_address=data.return_address, actor=actor)
    if done.state == "awaiting_return":
        return (f"Ruled: {format_money(done.ruled_refund_minor or 0, done.currency)} after the item "
                "is returned. The buyer has 7 days to ship it back.")
    return (f"Ruled: {done.outcome.replace('_', ' ')}; "
            f"{format_money(done.refund_minor or 0, done.currency)} refunded to the buyer.")


async def confirm_return(request: Any, data: ConfirmReturnModel) -> str:
    actor = _mediator(request)
    done = await _call(services.confirm_return_received, data.dispute_id, actor=actor)
    return f"Return confirmed; {format_money(done.refund_minor or 0, done.currency)} refunded."


TABLES = [
    TableConfig(
        Dispute, menu_group=GROUP, validators=read_only(),
        visible_columns=[Dispute.id, Dispute.state, Dispute.reason, Dispute.overdue,
                         Dispute.assigned_mediator, Dispute.order, Dispute.wanted,
                         Dispute.principal_minor, Dispute.outcome, Dispute.opened_at,
                         Dispute.decide_by],
        visible_filters=[Dispute.state, Dispute.reason, Dispute.assigned_mediator,
                         Dispute.overdue, Dispute.outcome, Dispute.order],
        order_by=[OrderBy(Dispute.id, ascending=False)],
    ),
    TableConfig(
        Evidence, menu_group=GROUP, validators=read_only(),
        visible_columns=[Evidence.id, Evidence.dispute, Evidence.party, Evidence.display_name,
                         Evidence.content_type, Evidence.size_bytes, Evidence.sha256,
                         Evidence.created_at],
        visible_filters=[Evidence.dispute, Evidence.party, Evidence.kind],
    ),
    TableConfig(
        DisputeEvent, menu_group=GROUP, validators=read_only(),
        visible_columns=[DisputeEvent.id, DisputeEvent.dispute, DisputeEvent.created_at,
                         DisputeEvent.actor_role, DisputeEvent.kind, DisputeEvent.body,
                         DisputeEvent.amount_minor],
        visible_filters=[DisputeEvent.dispute, DisputeEvent.kind, DisputeEvent.actor_role],
    ),
]

FORMS = [
    FormConfig(name="Assign to me", pydantic_model=AssignModel, endpoint=assign_to_me,
               form_group=GROUP,
               description="Take an escalated dispute (or an overdue one from another mediator). "
                           "Read the evidence on the dispute page: /disputes/<id>."),
    FormConfig(name="Ask a party for information", pydantic_model=InfoModel,
               endpoint=ask_for_information, form_group=GROUP,
               description="The party is notified and answers with a message or evidence by the "
                           "deadline; if not, the dispute is flagged overdue."),
    FormConfig(name="Rule", pydantic_model=RuleModel, endpoint=rule_dispute, form_group=GROUP,
               description="Decide an escalated dispute assigned to you; money moves at once "
                           "(or after the return). " + policy.MANDATED_REFUND_RULE),
    FormConfig(name="Confirm returned item received", pydantic_model=ConfirmReturnModel,
               endpoint=confirm_return, form_group=GROUP,
               description="When the seller cannot: the returned item arrived; the refund is paid."),
]
