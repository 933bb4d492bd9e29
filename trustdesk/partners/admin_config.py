"""Partner tables in the mediators' admin: read-only (keys are hashes; deliveries are a log)."""

from __future__ import annotations

from piccolo_admin.endpoints import FormConfig, TableConfig

from trustdesk.admin import read_only
from trustdesk.partners.tables import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint

TABLES: list[TableConfig] = [
    TableConfig(ApiKey, menu_group="Partner API", validators=read_only(),
                visible_columns=[ApiKey.id, ApiKey.seller, ApiKey.name, ApiKey.prefix,
                                 ApiKey.created_at, ApiKey.last_used_at, ApiKey.revoked_at],
                visible_filters=[ApiKey.seller, ApiKey.prefix]),
    TableConfig(WebhookEndpoint, menu_group="Partner API", validators=read_only(),
                visible_columns=[WebhookEndpoint.id, WebhookEndpoint.seller, WebhookEndpoint.url,
                                 WebhookEndpoint.events, WebhookEndpoint.enabled,
                                 WebhookEndpoint.failing_since, WebhookEndpoint.disabled_at,
                                 WebhookEndpoint.created_at, WebhookEndpoint.deleted_at],
                visible_filters=[WebhookEndpoint.seller, WebhookEndpoint.enabled]),
    TableConfig(WebhookDelivery, menu_group="Partner API", validators=read_only(),
                visible_columns=[WebhookDelivery.id, WebhookDelivery.event_id,
                                 WebhookDelivery.endpoint, WebhookDelivery.event_type,
                                 WebhookDelivery.state, WebhookDelivery.attempts,
                                 WebhookDelivery.last_status_code, WebhookDelivery.next_attempt_at,
                                 WebhookDelivery.delivered_at],
                visible_filters=[WebhookDelivery.state, WebhookDelivery.event_type,
                                 WebhookDelivery.endpoint]),
    TableConfig(WebhookAttempt, menu_group="Partner API", validators=read_only(),
                visible_filters=[WebhookAttempt.delivery]),
]
FORMS: list[FormConfig] = []
