"""Notification rules: channels from preferences, webhook filters, keys, backoff, reminders."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookpulse.domain import notifications as n

T = datetime(2026, 6, 10, 20, 0, tzinfo=UTC)


def test_defaults_are_email_push_inapp_and_saved_choices_win() -> None:
    assert n.user_channels(None, "confirmed") == [n.Channel.EMAIL, n.Channel.PUSH,
                                                  n.Channel.INAPP]
    assert n.Channel.EMAIL not in n.user_channels({}, "created")
    chosen = n.user_channels({"confirmed": {"email": False, "sms": True}}, "confirmed")
    assert chosen == [n.Channel.SMS, n.Channel.PUSH, n.Channel.INAPP]


def test_preferences_refuse_unknown_kinds_channels_and_values() -> None:
    assert n.normalize_prefs({"reminder": {"sms": True}}) == {"reminder": {"sms": True}}
    for bad in ({"x": {"email": True}}, {"reminder": {"fax": True}},
                {"reminder": {"email": "yes"}}, {"reminder": ["email"]},
                {"reminder": {"webhook": True}}):
        with pytest.raises(ValueError):
            n.normalize_prefs(bad)


def test_endpoint_filters() -> None:
    assert n.endpoint_wants([], "confirmed")
    assert n.endpoint_wants(["booking.*"], "note")
    assert n.endpoint_wants(["booking.confirmed"], "confirmed")
    assert not n.endpoint_wants(["booking.cancelled"], "confirmed")


def test_idempotency_keys_are_stable_and_bounded() -> None:
    assert n.idempotency_key("evt:1", "email", 7) == "evt:1:email:7"
    long = n.idempotency_key("evt:1", "push", "x" * 500)
    assert len(long) <= 120 + 33 and long == n.idempotency_key("evt:1", "push", "x" * 500)
    assert long != n.idempotency_key("evt:1", "push", "y" * 500)


@settings(max_examples=60, deadline=None)
@given(attempts=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_backoff_grows_is_capped_and_jittered_within_half(attempts: int, seed: int) -> None:
    delay = n.backoff(attempts, base=30, cap=3600, rng=random.Random(seed)).total_seconds()
    ceiling = min(3600, 30 * 2 ** (attempts - 1))
    assert ceiling / 2 <= delay <= ceiling


def test_backoff_is_spread_by_jitter() -> None:
    rng = random.Random(1)
    delays = {n.backoff(5, base=30, cap=3600, rng=rng) for _ in range(20)}
    assert len(delays) > 10


def test_due_reminder_picks_the_nearest_due_offset_once_ahead_of_start() -> None:
    made = T - timedelta(days=5)
    hours = (24, 2)
    assert n.due_reminder(start_at=T, created_at=made, now=T - timedelta(hours=25),
                          hours=hours) is None
    assert n.due_reminder(start_at=T, created_at=made, now=T - timedelta(hours=24),
                          hours=hours) == 24
    assert n.due_reminder(start_at=T, created_at=made, now=T - timedelta(hours=1),
                          hours=hours) == 2
    assert n.due_reminder(start_at=T, created_at=made, now=T, hours=hours) is None


def test_no_24h_reminder_for_a_booking_made_three_hours_before() -> None:
    made = T - timedelta(hours=3)
    assert n.due_reminder(start_at=T, created_at=made, now=made, hours=(24, 2)) is None
    assert n.due_reminder(start_at=T, created_at=made, now=T - timedelta(hours=2),
                          hours=(24, 2)) == 2


def test_reminder_hours_are_validated() -> None:
    assert n.normalize_reminder_hours([2, 24, 2]) == [24, 2]
    for bad in ([0], [337], [1, 2, 3, 4, 5, 6]):
        with pytest.raises(ValueError):
            n.normalize_reminder_hours(bad)
