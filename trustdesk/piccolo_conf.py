"""Piccolo's configuration: the engine from TRUSTDESK_DATABASE_URL and every app."""

from piccolo.conf.apps import AppRegistry

from trustdesk.db import make_engine
from trustdesk.settings import get_settings

DB = make_engine(get_settings().database_url)

APP_REGISTRY = AppRegistry(
    apps=[
        "trustdesk.core.piccolo_app",
        "trustdesk.accounts.piccolo_app",
        "trustdesk.escrow.piccolo_app",
        "trustdesk.disputes.piccolo_app",
        "trustdesk.ratings.piccolo_app",
        "trustdesk.partners.piccolo_app",
        "piccolo_admin.piccolo_app",
    ]
)
