"""Cross-domain tables: the audit chain, the outbox of events, notifications, mail, failed jobs."""

from piccolo.columns import JSON, Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod  # noqa: F401
from piccolo.table import Table


class AuditEntry(Table, tablename="td_audit_entry"):
    """Append-only and hash-chained: each entry stores the previous entry's hash."""

    id = Serial(primary_key=True)
    created_at = Timestamptz()
    actor_role = Varchar(length=20)
    actor_id = Integer(null=True, default=None)
    via = Varchar(length=20, default="web")
    action = Varchar(length=80, index=True)
    subject_type = Varchar(length=40)
    subject_id = Varchar(length=64, index=True)
    data = JSON(default="{}")
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64, unique=True)


class OutboxEvent(Table, tablename="td_outbox_event"):
    """A domain event written in the same transaction as the change; relayed by jobs."""

    id = Serial(primary_key=True)
    created_at = Timestamptz()
    event_type = Varchar(length=60, index=True)  # order.funded, dispute.opened …
    subject_type = Varchar(length=40)
    subject_id = Integer()
    seller_id = Integer(null=True, default=None, index=True)
    buyer_id = Integer(null=True, default=None, index=True)
    data = JSON(default="{}")
    relayed_at = Timestamptz(null=True, default=None, index=True)
    attempts = Integer(default=0)


class Notification(Table, tablename="td_notification"):
    """In-app notification (the bell); one per (event, user, kind)."""

    id = Serial(primary_key=True)
    created_at = Timestamptz()
    user_id = Integer(index=True)
    dedupe_key = Varchar(length=120, unique=True)
    title = Varchar(length=200)
    body = Text(default="")
    link = Varchar(length=300, default="")
    read_at = Timestamptz(null=True, default=None)


class EmailMessage(Table, tablename="td_email_message"):
    """Every email we send; the dev mailbox lists them. dedupe_key makes sending idempotent."""

    id = Serial(primary_key=True)
    created_at = Timestamptz()
    dedupe_key = Varchar(length=120, unique=True)
    to_address = Varchar(length=255, index=True)
    subject = Varchar(length=255)
    body = Text()
    sent_at = Timestamptz(null=True, default=None)
    error = Text(default="")


class FailedJob(Table, tablename="td_failed_job"):
    """A job that failed after its retries, for mediators/operators to see in the admin."""

    id = Serial(primary_key=True)
    created_at = Timestamptz()
    actor_name = Varchar(length=100)
    message_id = Varchar(length=64)
    args = JSON(default="[]")
    error = Text()
    resolved = Boolean(default=False)


class SchedulerState(Table, tablename="td_scheduler_state"):
    """Singleton-ish key/value rows: last completed sweep, scheduler leases."""

    id = Serial(primary_key=True)
    name = Varchar(length=60, unique=True)
    value = Varchar(length=255, default="")
    updated_at = Timestamptz()
