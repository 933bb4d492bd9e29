"""Escrow tables: orders (an escrow link is an unpaid order), payments, ledger entries."""

from piccolo.columns import BigInt, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from trustdesk.accounts.tables import User
from trustdesk.escrow.states import OrderState


class Order(Table, tablename="td_order"):
    id = Serial(primary_key=True)
    token = Varchar(length=64, unique=True)  # the /pay/<token> link; unguessable
    seller = ForeignKey(references=User, index=True)
    buyer = ForeignKey(references=User, null=True, default=None, index=True)
    buyer_email = Varchar(length=255, null=True, default=None)  # API orders name their buyer
    title = Varchar(length=200)
    description = Text(default="")
    amount_minor = BigInt()
    shipping_minor = BigInt(default=0)
    currency = Varchar(length=3, default="PKR")
    inspection_days = Integer(default=3)
    # exact window in seconds (days x 86400, or TRUSTDESK_INSPECTION_WINDOW when the seller did not choose)
    inspection_s = Integer(null=True, default=None)
    state = Varchar(length=24, default=OrderState.AWAITING_PAYMENT.value, index=True)
    prior_state = Varchar(length=24, null=True, default=None)  # where a dispute came from
    paused_remaining_s = Integer(null=True, default=None)  # window left when a dispute froze it
    source = Varchar(length=10, default="link")  # link | api
    external_ref = Varchar(length=255, null=True, default=None, index=True)
    cancel_reason = Varchar(length=200, default="")
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    pay_by = Timestamptz(null=True, default=None, index=True)
    funded_at = Timestamptz(null=True, default=None)
    ship_by = Timestamptz(null=True, default=None, index=True)
    shipped_at = Timestamptz(null=True, default=None)
    carrier = Varchar(length=40, default="")
    tracking_number = Varchar(length=80, default="")
    confirm_by = Timestamptz(null=True, default=None, index=True)
    delivered_at = Timestamptz(null=True, default=None)
    inspect_until = Timestamptz(null=True, default=None, index=True)
    closed_at = Timestamptz(null=True, default=None)


class Payment(Table, tablename="td_payment"):
    id = Serial(primary_key=True)
    order = ForeignKey(references=Order, index=True)
    buyer = ForeignKey(references=User)
    provider = Varchar(length=30, default="sandbox")
    method = Varchar(length=30, default="")
    reference = Varchar(length=64, unique=True)  # our id given to the provider; unguessable
    provider_ref = Varchar(length=100, default="")
    amount_minor = BigInt()
    currency = Varchar(length=3)
    status = Varchar(length=20, default="pending")  # pending | succeeded | failed
    created_at = Timestamptz()
    completed_at = Timestamptz(null=True, default=None)


class LedgerEntry(Table, tablename="td_ledger_entry"):
    """Append-only; one posting = several rows sharing posting_id that sum to zero."""

    id = Serial(primary_key=True)
    posting_id = Varchar(length=36, index=True)
    kind = Varchar(length=20)
    account = Varchar(length=80, index=True)
    amount_minor = BigInt()
    currency = Varchar(length=3)
    order = ForeignKey(references=Order, null=True, default=None, index=True)
    created_at = Timestamptz()
