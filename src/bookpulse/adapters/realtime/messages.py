"""Live stream messages built from log entries, serialized once per event and variant.

Two kinds of message, one per event id and connection at most:

* ``event`` — for viewers the booking concerns (its customer; staff and admins of its
  organization): the timeline event (the shape of ``GET /bookings/{ref}/events`` items)
  plus ``booking: {ref, status, version, start, end, offering_id, session_id}``, and
  ``availability`` when the viewer also watches the offering.
* ``availability`` — for watchers of the offering who may not see the booking: what
  inventory changed (seats, session places, nights, resource time), never who booked.
"""

from __future__ import annotations

from typing import Any

import orjson

from bookpulse.adapters.db.live_repo import LogEntry, Places

#: Events that take inventory, give it back, or move a booking to other inventory.
_TAKING = frozenset({"created", "waitlist_offered"})
_MOVING = frozenset({"modified", "delayed"})
_RELEASED_STATUSES = frozenset({"cancelled", "rejected", "expired"})

#: Inventory facts safe to show anyone watching an offering. Everything else in booking
#: details (notes, ticket holders' names...) stays private.
_PUBLIC_DETAIL_KEYS = frozenset({
    # all shapes
    "session_id", "quantity", "start_at", "end_at",
    # capacity: places per ticket type
    "tickets",
    # seats
    "seat_ids", "seats", "categories",
    # nights
    "room_type_id", "room_type", "check_in", "check_out", "nights",
    # slots: the resource and the time it is claimed (buffers included)
    "resource_id", "resource_ids", "resource", "service_id", "service", "party_size",
    "claim_start", "claim_end",
})


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(payload: Any) -> str:
    """Compact JSON, with dates and times as ISO 8601 (``isoformat``), tuples and sets
    as arrays and numeric keys as strings. orjson: about 20 times faster than the
    standard library's encoder on an event message (0.6 against 12.5 us measured), and
    every status change writes three of these (its events, its booking, its message)."""
    return orjson.dumps(payload, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


def event_body(e: LogEntry) -> dict[str, Any]:
    return {
        "id": e.id, "type": e.type, "from_status": e.from_status, "to_status": e.to_status,
        "actor": {"id": e.actor_id, "name": e.actor_name, "role": e.actor_role},
        "reason": e.reason, "data": e.data or {}, "version": e.booking_version,
        "created_at": e.created_at,
    }


def _event_times(e: LogEntry) -> tuple[Any, Any]:
    """The booking's times as of this event when the event says them (a delay or a
    modification carries the new ones); otherwise the booking's current times."""
    data = e.data or {}
    new = data.get("new") if isinstance(data.get("new"), dict) else None
    if new and new.get("start_at"):
        return new["start_at"], new.get("end_at") or e.end_at
    return e.start_at, e.end_at


def booking_body(e: LogEntry) -> dict[str, Any]:
    start, end = _event_times(e)
    return {"ref": e.ref, "status": e.to_status or e.status, "version": e.booking_version,
            "start": start, "end": end, "offering_id": e.offering_id,
            "session_id": e.session_id}


def availability_change(e: LogEntry) -> str | None:
    """"taken", "released", "moved", or None when the event leaves inventory alone."""
    if e.type in _TAKING and e.to_status != "waitlisted":
        return "taken"
    if e.to_status in _RELEASED_STATUSES and e.from_status not in (None, "waitlisted"):
        return "released"
    if e.type in _MOVING:
        return "moved"
    return None


def _public(details: Any) -> dict[str, Any]:
    if not isinstance(details, dict):
        return {}
    return {k: v for k, v in details.items() if k in _PUBLIC_DETAIL_KEYS}


def availability_body(e: LogEntry, change: str,
                      places: dict[int, Places]) -> dict[str, Any]:
    """What changed in the offering's inventory. ``places`` holds the current places of
    the sessions involved (read once per batch of events)."""
    data = e.data or {}
    body: dict[str, Any] = {"type": "availability", "id": e.id, "offering_id": e.offering_id,
                            "shape": e.shape, "change": change}
    if change == "moved":
        old, new = _public(data.get("old")), _public(data.get("new"))
        body.update(new)
        body["old"] = old
        body.setdefault("session_id", e.session_id)
        body.setdefault("quantity", e.quantity)
    else:
        # Creation events carry the shape details; releases take them from the booking.
        source = data if change == "taken" else e.details
        body.update(_public(e.details))
        body.update(_public(source))
        body["session_id"] = body.get("session_id") or e.session_id
        body.setdefault("quantity", e.quantity)
    start, end = _event_times(e)
    body.setdefault("start", body.pop("start_at", start))
    body.setdefault("end", body.pop("end_at", end))
    if e.shape != "capacity":
        return body  # the other shapes say what changed in seats, nights or slots
    session_id = body.get("session_id")
    if isinstance(session_id, int) and session_id in places:
        p = places[session_id]
        body["places_left"], body["capacity"] = p.left, p.capacity
    old_session = body.get("old", {}).get("session_id") if change == "moved" else None
    if isinstance(old_session, int) and old_session != session_id and old_session in places:
        body["old_places_left"] = places[old_session].left
    return body


def session_ids(e: LogEntry) -> list[int]:
    """Sessions whose places an availability message for ``e`` reports."""
    ids = [e.session_id]
    data = e.data or {}
    for key in ("old", "new"):
        part = data.get(key)
        if isinstance(part, dict):
            ids.append(part.get("session_id"))
    ids.append(data.get("session_id"))
    return [i for i in ids if isinstance(i, int)]


class Rendered:
    """The serialized variants of one event, made on first use and shared by every
    connection that gets it."""

    __slots__ = ("_avail", "_event", "_event_avail", "change", "entry", "places")

    def __init__(self, entry: LogEntry, places: dict[int, Places]) -> None:
        self.entry = entry
        self.places = places
        self.change = availability_change(entry)
        self._event: str | None = None
        self._event_avail: str | None = None
        self._avail: str | None = None

    def _event_payload(self) -> dict[str, Any]:
        return {"type": "event", "id": self.entry.id, "event": event_body(self.entry),
                "booking": booking_body(self.entry)}

    def event(self, *, watching: bool) -> str:
        if watching and self.change is not None:
            if self._event_avail is None:
                payload = self._event_payload()
                payload["availability"] = availability_body(self.entry, self.change,
                                                            self.places)
                self._event_avail = dumps(payload)
            return self._event_avail
        if self._event is None:
            self._event = dumps(self._event_payload())
        return self._event

    def availability(self) -> str | None:
        if self.change is None:
            return None
        if self._avail is None:
            self._avail = dumps(availability_body(self.entry, self.change, self.places))
        return self._avail
