"""Orders, payments and ledger entries in Piccolo Admin: visible to mediators, never editable
there (state and money change only through escrow services)."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig, TableConfig

from trustdesk.admin import read_only
from trustdesk.escrow.tables import LedgerEntry, Order, Payment

TABLES: list[TableConfig] = [
    TableConfig(
        Order, menu_group="Escrow", validators=read_only(),
        visible_columns=[Order.id, Order.title, Order.state, Order.seller, Order.buyer,
                         Order.amount_minor, Order.shipping_minor, Order.currency, Order.source,
                         Order.external_ref, Order.created_at, Order.pay_by, Order.ship_by,
                         Order.confirm_by, Order.inspect_until, Order.closed_at],
        visible_filters=[Order.state, Order.seller, Order.buyer, Order.source, Order.external_ref,
                         Order.created_at],
    ),
    TableConfig(
        Payment, menu_group="Escrow", validators=read_only(),
        visible_columns=[Payment.id, Payment.order, Payment.buyer, Payment.provider, Payment.method,
                         Payment.status, Payment.amount_minor, Payment.currency, Payment.created_at,
                         Payment.completed_at],
        visible_filters=[Payment.order, Payment.buyer, Payment.status, Payment.provider,
                         Payment.reference],
    ),
    TableConfig(
        LedgerEntry, menu_group="Escrow", validators=read_only(),
        visible_columns=[LedgerEntry.id, LedgerEntry.created_at, LedgerEntry.posting_id,
                         LedgerEntry.kind, LedgerEntry.account, LedgerEntry.amount_minor,
                         LedgerEntry.currency, LedgerEntry.order],
        visible_filters=[LedgerEntry.order, LedgerEntry.account, LedgerEntry.kind,
                         LedgerEntry.posting_id],
    ),
]
FORMS: list[FormConfig] = []
