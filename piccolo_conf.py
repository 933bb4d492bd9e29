"""For the `piccolo` CLI run from the repository root; the real config lives in the package."""

from trustdesk.piccolo_conf import APP_REGISTRY, DB  # noqa: F401
