"""Module Dramatiq's CLI imports in worker processes: the broker, then every actor."""

from trustdesk.worker import BROKER, import_tasks  # noqa: F401

import_tasks()
