"""The .ics calendar entry attached to confirmations and changes.

The UID is the booking reference, so calendars update the entry in place when a later
message (modified, delayed) carries a higher SEQUENCE (the booking version); a cancelled
booking's entry carries STATUS:CANCELLED and METHOD:CANCEL.
"""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event


def booking_ics(*, ref: str, title: str, start: datetime, end: datetime, location: str,
                description: str, url: str, sequence: int, cancelled: bool,
                organizer_name: str, now: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Bookpulse//Bookings//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    ev = Event()
    ev.add("uid", f"{ref}@bookpulse")
    ev.add("sequence", sequence)
    ev.add("dtstamp", now)
    ev.add("dtstart", start)
    ev.add("dtend", end)
    ev.add("summary", title)
    if location:
        ev.add("location", location)
    ev.add("description", description)
    ev.add("url", url)
    ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if organizer_name:
        ev.add("organizer", "mailto:noreply@bookpulse.localhost",
               parameters={"CN": organizer_name})
    cal.add_component(ev)
    return bytes(cal.to_ical())
