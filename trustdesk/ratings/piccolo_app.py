import os

from piccolo.conf.apps import AppConfig

from trustdesk.ratings.tables import Rating, SellerDomain, SellerRecord

APP_CONFIG = AppConfig(
    app_name="ratings",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Rating, SellerDomain, SellerRecord],
    migration_dependencies=["trustdesk.accounts.piccolo_app", "trustdesk.escrow.piccolo_app"],
    commands=[],
)
