import os

from piccolo.conf.apps import AppConfig

from trustdesk.disputes.tables import Dispute, DisputeEvent, Evidence

APP_CONFIG = AppConfig(
    app_name="disputes",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Dispute, Evidence, DisputeEvent],
    migration_dependencies=["trustdesk.accounts.piccolo_app", "trustdesk.escrow.piccolo_app"],
    commands=[],
)
