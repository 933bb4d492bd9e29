import os

from piccolo.conf.apps import AppConfig

from trustdesk.core.tables import (
    AuditEntry,
    EmailMessage,
    FailedJob,
    Notification,
    OutboxEvent,
    SchedulerState,
)

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[AuditEntry, OutboxEvent, Notification, EmailMessage, FailedJob, SchedulerState],
    migration_dependencies=[],
    commands=[],
)
