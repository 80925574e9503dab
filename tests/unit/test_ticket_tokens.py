"""The ticket token format: round trips, refuses anything malformed, and leaves the
signature to the verifier port."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookpulse.domain import tickets as tk
from bookpulse.domain.lifecycle import PaymentStatus, Status
from bookpulse.domain.model import Booking, Kind, Shape
from bookpulse.domain.policy import CancellationPolicy

T = datetime(2026, 6, 11, 19, 0, tzinfo=UTC)
CLAIMS = tk.TicketClaims(key_id=3, org_id=42, ref="BP-7K3Q9X", position=1, session_id=9,
                         start=T, valid_from=T - timedelta(hours=12),
                         valid_until=T + timedelta(hours=9))
SIG = bytes(range(64))


def _booking(**kw: object) -> Booking:
    base = dict(id=1, ref="BP-7K3Q9X", org_id=42, offering_id=5, session_id=9, customer_id=7,
                customer_name="Ada", customer_email="ada@example.com", customer_phone=None,
                kind=Kind.EVENT, shape=Shape.CAPACITY, status=Status.CONFIRMED,
                payment_status=PaymentStatus.UNPAID, quantity=3, start_at=T,
                end_at=T + timedelta(hours=3), price_total=0, currency="EUR",
                hold_until=None, policy=CancellationPolicy(24), details={}, version=1,
                last_event_id=None, created_at=T, updated_at=T)
    base.update(kw)
    return Booking(**base)  # type: ignore[arg-type]


def test_token_round_trips_claims_and_signature() -> None:
    token = tk.encode(tk.serialize(CLAIMS), SIG)
    assert token == token.upper() and "=" not in token
    claims, payload, signature = tk.split(token)
    assert claims == CLAIMS and signature == SIG and payload == tk.serialize(CLAIMS)
    assert tk.split(token.lower())[0] == CLAIMS  # typed in lower case still reads
    assert len(token) < 160


def test_read_verified_asks_the_verifier_with_the_named_key() -> None:
    token = tk.encode(tk.serialize(CLAIMS), SIG)
    seen: list[tuple[int, int]] = []

    def verify(org: int, kid: int, payload: bytes, sig: bytes) -> bool:
        seen.append((org, kid))
        return sig == SIG

    assert tk.read_verified(token, verify) == CLAIMS and seen == [(42, 3)]
    with pytest.raises(tk.MalformedTicket):
        tk.read_verified(token, lambda *a: False)


@pytest.mark.parametrize("text", ["", "   ", "A" * 500, "!!!!", "AAAA", "BP-7K3Q9X",
                                  tk.encode(b"\x02" + tk.serialize(CLAIMS)[1:], SIG),
                                  tk.encode(tk.serialize(CLAIMS) + b"x", SIG)])
def test_malformed_tokens_are_refused(text: str) -> None:
    with pytest.raises(tk.MalformedTicket):
        tk.split(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_no_text_breaks_the_reader(text: str) -> None:
    try:
        tk.split(text)
    except tk.MalformedTicket:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=65, max_size=200))
def test_no_bytes_break_the_reader(raw: bytes) -> None:
    import base64

    try:
        tk.split(base64.b32encode(raw).decode())
    except tk.MalformedTicket:
        pass


def test_tickets_per_person_or_per_booking() -> None:
    assert tk.ticket_count(_booking(quantity=3)) == 3
    seated = _booking(shape=Shape.SEATS, quantity=2,
                      details={"seat_ids": [4, 5], "seats": [{"label": "A4"}, "A5"]})
    assert tk.ticket_count(seated) == 2
    assert [tk.seat_label(seated, p) for p in range(3)] == ["A4", "A5", None]
    for shape in (Shape.SLOTS, Shape.NIGHTS):
        assert tk.ticket_count(_booking(shape=shape, quantity=4)) == 1


def test_claims_follow_the_booking_times() -> None:
    claims = tk.claims_for(_booking(), key_id=1, position=2)
    assert claims.valid_from == T - tk.OPENS_BEFORE
    assert claims.valid_until == T + timedelta(hours=3) + tk.CLOSES_AFTER
    assert claims.valid_at(T) and not claims.valid_at(T - timedelta(days=1))
    assert tk.claims_for(_booking(session_id=None), key_id=1, position=0).session_id is None
    with pytest.raises(ValueError):
        tk.serialize(replace(CLAIMS, ref="XX-123"))


def test_times_beyond_the_fields_range_are_clamped_not_refused() -> None:
    far = datetime(2200, 1, 1, tzinfo=UTC)
    claims = tk.claims_for(_booking(start_at=far, end_at=far + timedelta(hours=1)),
                           key_id=1, position=0)
    back = tk.parse(tk.serialize(claims))
    assert back.valid_until == datetime.fromtimestamp(2**32 - 1, tz=UTC)
