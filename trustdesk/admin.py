"""Piccolo Admin for mediators, built once at start-up from each domain's admin_config."""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import HTTPException
from piccolo_admin.endpoints import FormConfig, TableConfig, create_admin
from piccolo_api.crud.validators import Validators

from trustdesk.accounts.tables import AdminSession, LoginAttempt, Session, User
from trustdesk.core.tables import AuditEntry, EmailMessage, FailedJob, OutboxEvent

DOMAIN_ADMIN_MODULES = (
    "trustdesk.escrow.admin_config",
    "trustdesk.disputes.admin_config",
    "trustdesk.ratings.admin_config",
    "trustdesk.partners.admin_config",
)


def _refuse(*_: Any, **__: Any) -> None:
    raise HTTPException(
        status_code=405,
        detail="Read-only: state, money and audit records change only through TrustDesk's "
               "actions (the forms in the sidebar), never by editing rows.",
    )


def read_only() -> Validators:
    """Validators that refuse create, edit and delete in the admin for a table."""
    return Validators(post_single=[_refuse], put_single=[_refuse], patch_single=[_refuse],
                      delete_single=[_refuse], delete_all=[_refuse])


def _core_tables() -> list[TableConfig]:
    return [
        TableConfig(User, menu_group="People", validators=read_only(),
                    visible_columns=[User.id, User.email, User.role, User.display_name,
                                     User.store_name, User.slug, User.active, User.suspended,
                                     User.created_at],
                    visible_filters=[User.email, User.role, User.slug, User.suspended]),
        TableConfig(AuditEntry, menu_group="Records", validators=read_only(),
                    visible_columns=[AuditEntry.id, AuditEntry.created_at, AuditEntry.action,
                                     AuditEntry.actor_role, AuditEntry.actor_id,
                                     AuditEntry.subject_type, AuditEntry.subject_id],
                    visible_filters=[AuditEntry.action, AuditEntry.subject_type,
                                     AuditEntry.subject_id, AuditEntry.actor_id],
                    order_by=None),
        TableConfig(OutboxEvent, menu_group="Records", validators=read_only(),
                    visible_filters=[OutboxEvent.event_type, OutboxEvent.subject_id]),
        TableConfig(EmailMessage, menu_group="Records", validators=read_only()),
        TableConfig(FailedJob, menu_group="Records",
                    visible_filters=[FailedJob.actor_name, FailedJob.resolved]),
    ]


def collect() -> tuple[list[TableConfig], list[FormConfig]]:
    tables = _core_tables()
    forms: list[FormConfig] = []
    for name in DOMAIN_ADMIN_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        tables.extend(getattr(module, "TABLES", []))
        forms.extend(getattr(module, "FORMS", []))
    return tables, forms


def build_admin(production: bool = False) -> Any:
    tables, forms = collect()
    return create_admin(
        tables=tables,
        forms=forms,
        auth_table=User,
        session_table=AdminSession,
        site_name="TrustDesk mediators",
        production=production,
        auto_include_related=False,
        sidebar_links={"TrustDesk site": "/", "Disputes to decide": "/admin/#/"},
    )


_UNUSED = (Session, LoginAttempt)
