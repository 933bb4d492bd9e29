"""Domain errors carry their HTTP status and a stable code; pages show the message."""

from __future__ import annotations


class DomainError(Exception):
    """Base for every rule a command can break. Pages flash `message`; the API returns JSON."""

    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return {"error": body}


class ValidationFailed(DomainError):
    status_code = 422
    code = "validation_error"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    """Used where 404 would be wrong (the subject knows the object exists)."""

    status_code = 403
    code = "forbidden"


class NotAllowed(DomainError):
    """This role may not take this action (pure state machines raise it)."""

    status_code = 403
    code = "not_allowed"


class InvalidTransition(DomainError):
    status_code = 409
    code = "invalid_transition"


class Conflict(DomainError):
    """Someone else changed the row first (optimistic concurrency)."""

    status_code = 409
    code = "conflict"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
