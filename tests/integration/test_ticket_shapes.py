"""Tickets across shapes: one per seat with its label; one per appointment, whose
arrival is checked in and whose service staff then start and complete."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

from pypdf import PdfReader

from tests.conftest import World
from tests.integration import shape_factories as f
from tests.integration.ticket_helpers import decode_pdf, move_clock, scan, tickets


async def test_seated_booking_has_a_ticket_per_seat_with_its_label(world: World) -> None:
    off, session, layout = await f.theatre(world)
    seats = {s["label"]: s["id"] for s in layout["seats"]}
    r = await f.book(world, offering_id=off, session_id=session,
                     seat_ids=[seats["Stalls A3"], seats["Stalls A4"]])
    assert r.status_code == 201, r.text
    ref = r.json()["ref"]
    issued = await tickets(world, ref)
    assert [(t["position"], t["seat"]) for t in issued] == [(0, "Stalls A3"), (1, "Stalls A4")]
    pdf = await world.client.get(f"/api/v1/bookings/{ref}/tickets.pdf",
                                 headers=world.headers["customer_a"])
    pages = [p.extract_text() for p in PdfReader(BytesIO(pdf.content)).pages]
    assert "Seat Stalls A3" in pages[0] and "Seat Stalls A4" in pages[1]
    assert decode_pdf(pdf.content) == [t["token"] for t in issued]


async def test_spa_arrival_is_checked_in_then_service_starts_and_completes(
        world: World) -> None:
    off, service, _ = await f.spa(world)
    r = await f.book(world, offering_id=off, service_id=service,
                     start="2026-06-03T10:00:00+02:00")
    assert r.status_code == 201, r.text
    ref = r.json()["ref"]
    (ticket,) = await tickets(world, ref)
    now = world.container.clock.now()
    await move_clock(world, datetime(2026, 6, 3, 7, 50, tzinfo=UTC) - now)
    result = await scan(world, ticket["token"], gate="Reception")
    assert result["result"] == "ok"
    assert result["booking"]["offering"]["shape"] == "slots"
    assert "start" in result["booking"]["allowed_actions"]
    for action, status in (("start", "in_service"), ("complete", "completed")):
        r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                    json={"action": action}, headers=world.headers["staff_1"])
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    events = (await world.client.get(f"/api/v1/bookings/{ref}/events",
                                     headers=world.headers["customer_a"])).json()
    assert [e["type"] for e in events][-3:] == ["checked_in", "started", "completed"]
    assert (await scan(world, ticket["token"]))["result"] == "already_checked_in"
