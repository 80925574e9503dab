"""The bookings this process read or saved last, kept so that a status change can start
from one without reading it again (PostgreSQL writers, ``SqlUnitOfWork.read_booking``).

A kept copy may be out of date: another instance, or a writer here that does not pass
through ``read_booking``, may have changed the booking since. That is safe because every
save of a booking checks the version it started from and writes the next one, so a
version names one committed state only; a change decided on an old copy finds the
version moved, writes nothing, and is decided again on a fresh read (services/bookings.py,
``_transition``). Only committed states are kept: what an autocommit read returned, or
what a save wrote once its commit is done. (A state kept from a transaction that then
rolled back would carry a version that a different state could later commit under.)
"""

from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict

from bookpulse.domain.model import Booking


class RecentBookings:
    """At most ``size`` bookings by reference, the least recently used dropped first
    (``size`` 0 keeps none). Each is a private copy, in and out."""

    def __init__(self, size: int) -> None:
        self.size = max(size, 0)
        self._kept: OrderedDict[str, Booking] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, ref: str) -> Booking | None:
        kept = self._kept.get(ref)
        if kept is None:
            return None
        self._kept.move_to_end(ref)
        return _copy(kept)

    def put(self, booking: Booking) -> None:
        if not self.size:
            return
        self._kept[booking.ref] = _copy(booking)
        self._kept.move_to_end(booking.ref)
        if len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def drop(self, ref: str) -> None:
        self._kept.pop(ref, None)


def _copy(booking: Booking) -> Booking:
    # The policy is frozen; ``details`` is the one mutable value that may nest.
    return dataclasses.replace(booking, details=copy.deepcopy(booking.details))
