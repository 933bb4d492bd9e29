"""Who may use ratings pages: the services check ownership (strangers get 404)."""

from trustdesk.accounts.guards import requires_login, requires_seller

__all__ = ["requires_login", "requires_seller"]
