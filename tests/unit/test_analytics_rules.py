"""What each logged event adds to the analytics counters, and the derived rates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bookpulse.domain.analytics import (
    BookingValue,
    LoggedEvent,
    contributions,
    derived,
    local_day,
    observe,
    staff_actor,
    week_start,
)
from bookpulse.services.analytics import _hours_per_weekday

AT = datetime(2026, 6, 1, 14, 30, tzinfo=UTC)


def ev(type_: str, *, frm: str | None = None, to: str | None = None,
       data: dict | None = None, role: str = "customer", actor: int | None = 7) -> LoggedEvent:
    return LoggedEvent(1, 10, 1, 3, type_, frm, to, actor, role, data or {}, AT)


def test_a_day_is_the_local_day_of_the_offerings_zone():
    assert local_day(AT, "Asia/Tokyo") == date(2026, 6, 1)   # 23:30 in Tokyo
    assert local_day(AT + timedelta(minutes=31), "Asia/Tokyo") == date(2026, 6, 2)
    assert local_day(datetime(2026, 6, 1, 2, tzinfo=UTC), "America/New_York") == date(2026, 5, 31)
    assert local_day(AT, "Not/AZone") == date(2026, 6, 1)


def test_weeks_start_on_monday():
    assert week_start(date(2026, 6, 7)) == date(2026, 6, 1)
    assert week_start(date(2026, 6, 1)) == date(2026, 6, 1)


def test_creation_counts_lead_time_never_negative():
    start = AT + timedelta(days=2, minutes=5)
    c = contributions(ev("created", data={"start_at": start.isoformat(), "price_total": 10,
                                          "quantity": 1}), before=BookingValue(10, 1),
                      start_at=None)
    assert c == {"events": 1, "created": 1, "lead_minutes": 2 * 1440 + 5}
    late = contributions(ev("created"), before=BookingValue(0, 1), start_at=AT - timedelta(1))
    assert late["lead_minutes"] == 0


def test_confirmation_books_value_and_cancellation_after_it_refunds():
    v = BookingValue(5000, 2)
    assert contributions(ev("confirmed", frm="pending"), before=v, start_at=None) == {
        "events": 1, "confirmed": 1, "gross": 5000, "places_confirmed": 2}
    assert contributions(ev("cancelled", frm="confirmed"), before=v,
                         start_at=None)["refunds"] == 5000
    assert "refunds" not in contributions(ev("cancelled", frm="pending"), before=v,
                                          start_at=None)


def test_refund_events_count_unless_they_follow_a_cancellation():
    v = BookingValue(5000, 2)
    assert contributions(ev("refunded", data={"amount": 1200}), before=v,
                         start_at=None)["refunds"] == 1200
    assert "refunds" not in contributions(
        ev("refunded", data={"amount": 1200, "for_cancellation": True}), before=v,
        start_at=None)


def test_modifying_a_confirmed_booking_moves_gross_by_the_difference():
    data = {"old": {"price_total": 5000, "quantity": 2},
            "new": {"price_total": 7500, "quantity": 3}}
    confirmed = contributions(ev("modified", frm="confirmed", data=data),
                              before=BookingValue(5000, 2), start_at=None)
    assert confirmed["gross"] == 2500 and confirmed["places_confirmed"] == 1
    pending = contributions(ev("modified", frm="pending", data=data),
                            before=BookingValue(5000, 2), start_at=None)
    assert "gross" not in pending
    assert observe(ev("modified", data=data), BookingValue(5000, 2)) == BookingValue(7500, 3)


def test_delays_add_their_minutes_and_garbage_adds_nothing():
    assert contributions(ev("delayed", data={"delay_minutes": 45}), before=BookingValue(0, 1),
                         start_at=None)["delay_minutes"] == 45
    assert contributions(ev("delayed", data={"delay_minutes": "soon"}),
                         before=BookingValue(0, 1), start_at=None)["delay_minutes"] == 0


def test_only_staff_and_admins_are_staff_actors():
    assert staff_actor(ev("confirmed", role="staff", actor=4)) == 4
    assert staff_actor(ev("confirmed", role="admin", actor=5)) == 5
    assert staff_actor(ev("created", role="customer", actor=6)) == 0
    assert staff_actor(ev("expired", role="system", actor=None)) == 0


def test_rates_are_none_without_a_denominator():
    r = derived({})
    assert r["confirmation_rate"] is None and r["no_show_rate"] is None and r["net"] == 0
    r = derived({"created": 4, "confirmed": 3, "no_show": 1, "checked_in": 3, "gross": 900,
                 "refunds": 100, "expired": 1, "lead_minutes": 4 * 2880})
    assert r["confirmation_rate"] == 0.75 and r["no_show_rate"] == 0.25
    assert r["hold_abandonment_rate"] == 0.25 and r["avg_lead_time_days"] == 2.0
    assert r["net"] == 800


def test_working_hours_are_read_from_several_shapes_or_not_at_all():
    assert _hours_per_weekday({"mon": [["09:00", "17:00"]], "tue": "10:00-12:00"}) == [
        8.0, 2.0, 0, 0, 0, 0, 0]
    assert _hours_per_weekday({"0": {"start": "09:00", "end": "10:30"}})[0] == 1.5
    assert _hours_per_weekday({"funday": [["x", "y"]]}) is None
    assert _hours_per_weekday([]) is None
