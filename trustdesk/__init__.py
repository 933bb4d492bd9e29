"""TrustDesk: escrow, disputes, mandated refunds and trust badges."""

import os

# Piccolo finds its engine through this module, whatever the working directory.
os.environ.setdefault("PICCOLO_CONF", "trustdesk.piccolo_conf")

__version__ = "0.1.0"
