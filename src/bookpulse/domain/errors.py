"""The one error tree of Bookpulse.

Every failure a person can cause or meet is a ``BookingError`` subclass with a stable
``code`` (used as the last segment of the problem ``type`` URI, the htmx message key and
the WebSocket close reason) and a human ``title``. ``detail`` says what happened this time,
``data`` carries machine-readable fields. Entry points map these to transport errors in
exactly one place each (``entrypoints/api/errors.py`` for HTTP); nothing here knows HTTP.

    BookingError
      NotFound                  the thing does not exist, or the caller may not know it does
      Unauthenticated           no valid credentials
      Forbidden                 authenticated, but this role may not do this
      InvalidInput              the request is well-formed but its values are not acceptable
      Conflict                  the current state does not allow this
        InvalidTransition       the booking's status does not allow this action
        VersionConflict         the booking changed since the caller read it
        SoldOut                 not enough inventory left
        SeatTaken               a chosen seat is held or sold
        SlotTaken               the resource is busy at that time
        HoldExpired             the pending booking's hold ran out
        PolicyViolation         the cancellation/modification policy does not allow it
        DuplicateRequest        the idempotency key was used for another request
        AlreadyExists           a unique value (e-mail, slug...) is taken
      RateLimited               too many attempts; try later
"""

from __future__ import annotations

from typing import Any, ClassVar


class BookingError(Exception):
    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Something went wrong"

    def __init__(self, detail: str | None = None, **data: Any) -> None:
        self.detail = detail or self.title
        self.data = data
        super().__init__(self.detail)


class NotFound(BookingError):
    code = "not-found"
    title = "Not found"


class Unauthenticated(BookingError):
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(BookingError):
    code = "forbidden"
    title = "Not allowed"


class InvalidInput(BookingError):
    code = "invalid-input"
    title = "Invalid input"


class Conflict(BookingError):
    code = "conflict"
    title = "Conflict with the current state"


class InvalidTransition(Conflict):
    code = "invalid-transition"
    title = "This action is not possible in the booking's current status"


class VersionConflict(Conflict):
    code = "version-conflict"
    title = "The booking was changed by someone else"


class SoldOut(Conflict):
    code = "sold-out"
    title = "Sold out"


class SeatTaken(Conflict):
    code = "seat-taken"
    title = "Seat no longer available"


class SlotTaken(Conflict):
    code = "slot-taken"
    title = "Time slot no longer available"


class HoldExpired(Conflict):
    code = "hold-expired"
    title = "Your hold has expired"


class PolicyViolation(Conflict):
    code = "policy"
    title = "Not allowed by the cancellation policy"


class DuplicateRequest(Conflict):
    code = "idempotency-key-reused"
    title = "Idempotency key already used for a different request"


class AlreadyExists(Conflict):
    code = "already-exists"
    title = "Already exists"


class RateLimited(BookingError):
    code = "rate-limited"
    title = "Too many attempts"


class KeyClaimed(Exception):
    """The idempotency key of a booking being added was claimed already, by an earlier
    request (``UnitOfWork.add_with_places``): nothing was written. Never reaches a
    client; the caller answers with what the earlier request made."""
