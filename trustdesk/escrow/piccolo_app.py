import os

from piccolo.conf.apps import AppConfig

from trustdesk.escrow.tables import LedgerEntry, Order, Payment

APP_CONFIG = AppConfig(
    app_name="escrow",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Order, Payment, LedgerEntry],
    migration_dependencies=["trustdesk.accounts.piccolo_app"],
    commands=[],
)
