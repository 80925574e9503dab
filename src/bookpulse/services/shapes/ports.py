"""What the inventory engine needs from storage: a unit-of-work factory whose units
carry the core repositories plus ``shapes`` (ticket types, seats, nights, slots,
waitlist; see adapters/db/inventory_repo.py). Typed loosely: the repositories are
duck-typed like the handlers' ``uow``."""

from __future__ import annotations

from typing import Any, Protocol


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True) -> Any: ...
