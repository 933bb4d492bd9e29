"""Partner tables: API keys (hashed), idempotency records, webhook endpoints, deliveries, attempts."""

from piccolo.columns import BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from trustdesk.accounts.tables import User


class ApiKey(Table, tablename="td_api_key"):
    """A seller's bearer key; we keep only its SHA-256. `prefix` lets the seller recognise it."""

    id = Serial(primary_key=True)
    seller = ForeignKey(references=User, index=True)
    name = Varchar(length=80, default="")
    prefix = Varchar(length=16)  # first characters of the key, shown in lists
    key_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class IdempotencyRecord(Table, tablename="td_idempotency_record"):
    """The first response to (api key, Idempotency-Key); unique so concurrent copies queue up."""

    id = Serial(primary_key=True)
    api_key_id = Integer(index=True)
    key = Varchar(length=255)
    scope = Varchar(length=280, unique=True)  # "<api_key_id>:<key>": the atomic claim
    fingerprint = Varchar(length=64)  # SHA-256 of method, path and body
    state = Varchar(length=12, default="running")  # running | done
    status_code = Integer(null=True, default=None)
    content_type = Varchar(length=100, default="application/json")
    body = Text(default="")
    created_at = Timestamptz(index=True)
    completed_at = Timestamptz(null=True, default=None)


class WebhookEndpoint(Table, tablename="td_webhook_endpoint"):
    id = Serial(primary_key=True)
    seller = ForeignKey(references=User, index=True)
    url = Varchar(length=500)
    events = Text(default="[]")  # JSON list of event types; ["*"] for all
    secret = Varchar(length=80)  # needed to sign, so stored as is (shown to the seller once)
    description = Varchar(length=120, default="")
    enabled = Boolean(default=True)
    failing_since = Timestamptz(null=True, default=None)
    disabled_at = Timestamptz(null=True, default=None)
    disabled_reason = Varchar(length=200, default="")
    created_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)


class WebhookDelivery(Table, tablename="td_webhook_delivery"):
    """One event to one endpoint; unique (event, endpoint) makes fan-out idempotent."""

    id = Serial(primary_key=True)
    event_id = Integer(index=True)
    endpoint = ForeignKey(references=WebhookEndpoint, index=True)
    dedupe = Varchar(length=40, unique=True)  # "<event_id>:<endpoint_id>"
    event_type = Varchar(length=60)
    payload = Text()
    state = Varchar(length=12, default="pending", index=True)  # pending | succeeded | failed
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None, index=True)
    last_status_code = Integer(null=True, default=None)
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)


class WebhookAttempt(Table, tablename="td_webhook_attempt"):
    """Every HTTP attempt: status, duration, a snippet of the response (the delivery log)."""

    id = Serial(primary_key=True)
    delivery = ForeignKey(references=WebhookDelivery, index=True)
    attempted_at = Timestamptz()
    status_code = Integer(null=True, default=None)
    duration_ms = BigInt(default=0)
    response_snippet = Varchar(length=500, default="")
    error = Varchar(length=300, default="")
    manual = Boolean(default=False)
