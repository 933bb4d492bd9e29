"""Dispute tables: the dispute, its evidence files, and its timeline (statements, messages …)."""

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from trustdesk.accounts.tables import User
from trustdesk.disputes.states import DisputeState
from trustdesk.escrow.tables import Order


class Dispute(Table, tablename="td_dispute"):
    id = Serial(primary_key=True)
    order = ForeignKey(references=Order, index=True)
    buyer = ForeignKey(references=User, index=True)
    seller = ForeignKey(references=User, index=True)
    reason = Varchar(length=30, index=True)
    wanted = Varchar(length=20)
    wanted_amount_minor = BigInt(null=True, default=None)
    statement = Text(default="")
    currency = Varchar(length=3, default="PKR")
    principal_minor = BigInt(default=0)
    shipping_minor = BigInt(default=0)
    state = Varchar(length=24, default=DisputeState.AWAITING_SELLER.value, index=True)
    # the seller's standing offer (awaiting_buyer)
    offer_kind = Varchar(length=20, null=True, default=None)  # partial_refund | replacement
    offer_amount_minor = BigInt(null=True, default=None)
    offer_keep_item = Boolean(default=True)
    offer_note = Text(default="")
    # the outcome
    outcome = Varchar(length=24, null=True, default=None, index=True)
    resolution = Varchar(length=12, null=True, default=None)
    ruled_for = Varchar(length=8, null=True, default=None)
    mandated_refund = Boolean(default=False)
    refund_minor = BigInt(null=True, default=None)  # final: what the buyer got back
    ruled_refund_minor = BigInt(null=True, default=None)  # refund after return: to pay later
    ruling_reasons = Text(default="")
    ruled_by = ForeignKey(references=User, null=True, default=None)
    ruled_at = Timestamptz(null=True, default=None)
    # mediation
    assigned_mediator = ForeignKey(references=User, null=True, default=None, index=True)
    info_from = Varchar(length=8, null=True, default=None)  # buyer | seller
    info_question = Text(default="")
    overdue = Boolean(default=False, index=True)
    # return
    return_address = Text(default="")
    return_carrier = Varchar(length=40, default="")
    return_tracking = Varchar(length=80, default="")
    return_shipped_at = Timestamptz(null=True, default=None)
    return_received_at = Timestamptz(null=True, default=None)
    # times and deadlines
    version = Integer(default=1)
    opened_at = Timestamptz()
    updated_at = Timestamptz()
    seller_responded_at = Timestamptz(null=True, default=None)
    escalated_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    respond_by = Timestamptz(null=True, default=None, index=True)
    offer_answer_by = Timestamptz(null=True, default=None, index=True)
    return_ship_by = Timestamptz(null=True, default=None, index=True)
    return_receive_by = Timestamptz(null=True, default=None, index=True)
    info_due_by = Timestamptz(null=True, default=None, index=True)
    decide_by = Timestamptz(null=True, default=None, index=True)


class Evidence(Table, tablename="td_dispute_evidence"):
    """One filed file; immutable. Bytes live under data_path/evidence by SHA-256."""

    id = Serial(primary_key=True)
    dispute = ForeignKey(references=Dispute, index=True)
    uploaded_by = ForeignKey(references=User, index=True)
    party = Varchar(length=10)  # buyer | seller | mediator
    sha256 = Varchar(length=64, index=True)
    size_bytes = BigInt()
    content_type = Varchar(length=40)
    kind = Varchar(length=8)  # image | pdf
    display_name = Varchar(length=160)
    width = Integer(null=True, default=None)
    height = Integer(null=True, default=None)
    created_at = Timestamptz(index=True)


class DisputeEvent(Table, tablename="td_dispute_event"):
    """The timeline: statements, offers, messages, evidence, rulings, lapses. Append-only."""

    id = Serial(primary_key=True)
    dispute = ForeignKey(references=Dispute, index=True)
    created_at = Timestamptz()
    actor_role = Varchar(length=10)
    actor_id = Integer(null=True, default=None)
    kind = Varchar(length=24)
    body = Text(default="")
    amount_minor = BigInt(null=True, default=None)
    data = JSON(default="{}")
