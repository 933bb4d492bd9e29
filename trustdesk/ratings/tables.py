"""Ratings tables: one rating per completed order, sellers' domains, the per-seller record version."""

from piccolo.columns import Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from trustdesk.accounts.tables import User
from trustdesk.escrow.tables import Order


class Rating(Table, tablename="td_rating"):
    """A buyer's stars + text for one completed order; the seller's one public reply."""

    id = Serial(primary_key=True)
    order = ForeignKey(references=Order, unique=True)  # once per order
    seller = ForeignKey(references=User, index=True)
    buyer = ForeignKey(references=User, index=True)
    stars = Integer()
    text = Text(default="")
    tags = Varchar(length=200, default="")  # comma-separated, from TAGS
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()
    edited_at = Timestamptz(null=True, default=None)
    reply = Text(default="")
    replied_at = Timestamptz(null=True, default=None)
    hidden = Boolean(default=False)
    hidden_reason = Varchar(length=500, default="")
    hidden_for_fraud = Boolean(default=False)  # only fraud removes a rating from the score
    hidden_at = Timestamptz(null=True, default=None)
    hidden_by = Integer(null=True, default=None)
    version = Integer(default=1)


class SellerDomain(Table, tablename="td_seller_domain"):
    """A website a seller embeds the badge on; verified by a token at /.well-known/trustdesk.txt."""

    id = Serial(primary_key=True)
    seller = ForeignKey(references=User, index=True)
    domain = Varchar(length=255, index=True)
    token = Varchar(length=64)
    created_at = Timestamptz()
    verified_at = Timestamptz(null=True, default=None)
    verified_how = Varchar(length=20, default="")  # fetch | development
    last_checked_at = Timestamptz(null=True, default=None)
    last_error = Varchar(length=300, default="")


class SellerRecord(Table, tablename="td_seller_record"):
    """One row per seller: `version` bumps whenever anything shown on the badge may change.

    Badge caches in every web process compare their copy's version with this one.
    """

    id = Serial(primary_key=True)
    seller_id = Integer(unique=True)
    version = Integer(default=1)
    updated_at = Timestamptz(index=True)  # web processes poll "what changed since t"
