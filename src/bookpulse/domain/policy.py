"""Cancellation policy, frozen onto each booking when it is made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class CancellationPolicy:
    """Customers may cancel (and modify) free of charge until ``free_until_hours`` before
    the start; after that only an admin can, by override. ``None`` means always."""

    free_until_hours: int | None = 24

    def deadline(self, start_at: datetime) -> datetime | None:
        if self.free_until_hours is None:
            return None
        return start_at - timedelta(hours=self.free_until_hours)

    def customer_may_change(self, *, start_at: datetime, now: datetime) -> bool:
        deadline = self.deadline(start_at)
        return deadline is None or now <= deadline

    def describe(self) -> str:
        if self.free_until_hours is None:
            return "Free cancellation at any time."
        if self.free_until_hours == 0:
            return "Free cancellation until the start."
        hours = self.free_until_hours
        span = f"{hours // 24} days" if hours % 24 == 0 and hours >= 48 else (
            "24 hours" if hours == 24 else f"{hours} hours")
        return f"Free cancellation until {span} before the start; after that, no cancellation."

    def to_dict(self) -> dict[str, Any]:
        return {"free_until_hours": self.free_until_hours}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CancellationPolicy:
        if not data:
            return cls()
        return cls(free_until_hours=data.get("free_until_hours"))
