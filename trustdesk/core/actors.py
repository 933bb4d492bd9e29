"""Who is acting: a user in a role, the system (jobs), or a partner's API key."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    MEDIATOR = "mediator"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    role: Role
    user_id: int | None = None
    via: str = "web"  # web | api | admin | job | cli

    @classmethod
    def system(cls, via: str = "job") -> Actor:
        return cls(role=Role.SYSTEM, user_id=None, via=via)

    @property
    def label(self) -> str:
        return f"{self.role}:{self.user_id}" if self.user_id else str(self.role)
