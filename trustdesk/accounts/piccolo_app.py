import os

from piccolo.conf.apps import AppConfig

from trustdesk.accounts.tables import AdminSession, LoginAttempt, Session, User

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[User, Session, LoginAttempt, AdminSession],
    migration_dependencies=["trustdesk.core.piccolo_app"],
    commands=[],
)
