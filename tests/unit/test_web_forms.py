"""Form parsing behind the pages: bad input becomes a readable InvalidInput, never a 500."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from starlette.datastructures import FormData

from bookpulse.domain.errors import InvalidInput
from bookpulse.entrypoints.web.checkout import choice_fields, parse_choice
from bookpulse.entrypoints.web.manage_inventory import parse_week, week_text
from bookpulse.entrypoints.web.pages import search_filters


def test_choice_round_trips_through_hidden_fields() -> None:
    form = FormData([("offering_id", "7"), ("session_id", "3"), ("seat_ids", "12"),
                     ("seat_ids", "11"), ("ticket_4", "2"), ("ticket_5", "0"),
                     ("check_in", "2026-07-01"), ("check_out", "2026-07-03"),
                     ("slot", "2026-07-01T18:00:00+00:00|9"), ("party_size", "3")])
    req = parse_choice(form)
    assert req.seat_ids == (11, 12) and req.tickets == {4: 2} and req.quantity == 2
    assert req.check_in == date(2026, 7, 1) and req.resource_id == 9
    assert req.start == datetime(2026, 7, 1, 18, tzinfo=UTC)
    again = parse_choice(FormData(choice_fields(req)))
    assert again == req


@pytest.mark.parametrize("fields", [
    [],
    [("offering_id", "x")],
    [("offering_id", "1"), ("quantity", "99999999999")],
    [("offering_id", "1"), ("check_in", "tomorrow")],
    [("offering_id", "1"), ("start", "2026-07-01T18:00")],
    [("offering_id", "1"), ("slot", "soon|1")],
])
def test_bad_choices_are_refused_with_a_message(fields: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_choice(FormData(fields))
    assert info.value.detail


def test_weekly_hours_parse_and_print() -> None:
    week = parse_week("mon-wed 09:00-12:00, 13:00-17:30\nsat 10:00-14:00\n", "weekly_hours")
    assert week["tue"] == [["09:00", "12:00"], ["13:00", "17:30"]]
    assert week["sat"] == [["10:00", "14:00"]] and "sun" not in week
    assert parse_week(week_text(week), "weekly_hours") == week
    for bad in ("someday 09:00-10:00", "mon 9 to 5", "mon-xyz 09:00-10:00"):
        with pytest.raises(InvalidInput):
            parse_week(bad, "weekly_hours")


def test_search_drops_unreadable_values_with_a_note() -> None:
    filters, notes = search_filters("spa", " sauna ", "", "", "2026-13-01", "2026-07-02",
                                    "abc", "20.5")
    assert filters["kind"] == "spa" and filters["q"] == "sauna"
    assert filters["price_max"] == 2050 and "price_min" not in filters
    assert "date_from" not in filters and filters["date_to"] == datetime(2026, 7, 3, tzinfo=UTC)
    assert len(notes) == 2
    assert search_filters("bogus", "", "", "", "", "", "", "")[0] == {}
