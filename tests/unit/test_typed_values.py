"""Values people type: ids and counts in URLs, forms and the live stream's parameters
(``whole_number``; ``test_number_inputs.py`` checks the pages and endpoints), and time
zone names."""

from __future__ import annotations

import pytest

from bookpulse.domain.errors import InvalidInput
from bookpulse.entrypoints.api.deps import MAX_ID, whole_number
from bookpulse.entrypoints.stream import parse_last_event_id, parse_watch
from bookpulse.services.catalog import check_timezone

NOT_IDS = ["99999999999999999999", "2147483648", "²", "٣", "1" * 5000, "-1", "0", " 1", "",
           "1_000", "+1", "1.0"]


def test_whole_number_takes_ascii_digits_in_range_only() -> None:
    assert whole_number("42") == 42
    assert whole_number(str(MAX_ID)) == MAX_ID
    assert whole_number("0", lo=0) == 0
    for text in NOT_IDS:
        assert whole_number(text) is None, text


def test_stream_parameters_refuse_digits_int_cannot_read() -> None:
    assert parse_last_event_id("17") == 17
    assert parse_watch("3,4") == [3, 4]
    for text in ("²", "٣", "1" * 5000, "99999999999999999999999"):
        with pytest.raises(InvalidInput):
            parse_last_event_id(text)
        with pytest.raises(InvalidInput):
            parse_watch(f"1,{text}")


def test_a_seat_map_row_with_a_count_int_cannot_read_is_refused() -> None:
    from starlette.datastructures import FormData

    from bookpulse.entrypoints.web.manage_inventory import _layout_spec

    _, sections = _layout_spec(FormData({"rows": "Hall / A / 12 / Front"}))
    assert sections == [{"name": "Hall", "rows": [
        {"label": "A", "seats": 12, "category": "Front"}]}]
    for count in ("²", "99999999999999999999", "1" * 5000, "-3"):
        with pytest.raises(InvalidInput):
            _layout_spec(FormData({"rows": f"Hall / A / {count} / Front"}))


def test_a_time_zone_must_be_an_iana_name() -> None:
    assert check_timezone("Europe/Berlin") == "Europe/Berlin"
    assert check_timezone("UTC") == "UTC"
    # ZoneInfo reads the name as a path: a long one failed there with OSError (a 500).
    for name in ("1" * 5000, "Mars/Olympus", "../../etc/passwd", "Europe/../UTC", "", "²"):
        with pytest.raises(InvalidInput):
            check_timezone(name)
