import os

from piccolo.conf.apps import AppConfig

from trustdesk.partners.tables import (
    ApiKey,
    IdempotencyRecord,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

APP_CONFIG = AppConfig(
    app_name="partners",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[ApiKey, IdempotencyRecord, WebhookEndpoint, WebhookDelivery, WebhookAttempt],
    migration_dependencies=["trustdesk.accounts.piccolo_app"],
    commands=[],
)
