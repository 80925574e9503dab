"""Tickets: issued per person for confirmed bookings, as QR (PNG/SVG), PDF and e-mail
attachments that a real decoder reads back into a token the check-in API admits."""

from __future__ import annotations

from tests.conftest import World
from tests.integration.ticket_helpers import (
    at_doors,
    confirmed_booking,
    decode_pdf,
    decode_png,
    scan,
    tickets,
)


async def test_confirmed_booking_has_one_signed_ticket_per_person(world: World) -> None:
    booking = await confirmed_booking(world, quantity=3)
    issued = await tickets(world, booking["ref"])
    assert [t["position"] for t in issued] == [0, 1, 2]
    assert len({t["token"] for t in issued}) == 3
    assert issued[1]["qr_png_url"] == f"/api/v1/bookings/{booking['ref']}/tickets/2.png"
    # Issuing again gives the same tokens (deterministic signatures, same key).
    assert [t["token"] for t in await tickets(world, booking["ref"])] == \
        [t["token"] for t in issued]
    # Staff of the organization see them too.
    assert len(await tickets(world, booking["ref"], who="staff_1")) == 3


async def test_tickets_are_private_and_only_for_confirmed_bookings(world: World) -> None:
    r = await world.book("customer_a", quantity=1)
    ref = r.json()["ref"]
    pending = await world.client.get(f"/api/v1/bookings/{ref}/tickets",
                                     headers=world.headers["customer_a"])
    assert pending.status_code == 409
    await world.client.post(f"/api/v1/bookings/{ref}/transitions", json={"action": "confirm"},
                            headers=world.headers["admin_1"])
    for who in ("customer_b", "admin_2"):
        r = await world.client.get(f"/api/v1/bookings/{ref}/tickets", headers=world.headers[who])
        assert r.status_code == 404, who
        r = await world.client.get(f"/api/v1/bookings/{ref}/tickets.pdf",
                                   headers=world.headers[who])
        assert r.status_code == 404, who
    r = await world.client.get(f"/api/v1/bookings/{ref}/tickets")
    assert r.status_code == 401
    r = await world.client.get(f"/api/v1/bookings/{ref}/tickets/2.png",
                               headers=world.headers["customer_a"])
    assert r.status_code == 404


async def test_qr_png_from_the_api_decodes_to_a_token_the_checkin_admits(world: World) -> None:
    booking = await confirmed_booking(world, quantity=1)
    (ticket,) = await tickets(world, booking["ref"])
    png = await world.client.get(ticket["qr_png_url"], headers=world.headers["customer_a"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert decode_png(png.content) == [ticket["token"]]
    svg = await world.client.get(ticket["qr_svg_url"], headers=world.headers["customer_a"])
    assert svg.status_code == 200 and svg.content.lstrip().startswith(b"<?xml")
    await at_doors(world)
    result = await scan(world, decode_png(png.content)[0], gate="North", device_id="dev-1")
    assert result["result"] == "ok"
    assert result["booking"]["status"] == "checked_in"
    assert result["checked_in_by"] == "Staff One"


async def test_pdf_ticket_carries_a_decodable_qr_per_ticket(world: World) -> None:
    booking = await confirmed_booking(world, quantity=2)
    issued = await tickets(world, booking["ref"])
    r = await world.client.get(f"/api/v1/bookings/{booking['ref']}/tickets.pdf",
                               headers=world.headers["customer_a"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    decoded = decode_pdf(r.content)
    assert decoded == [t["token"] for t in issued]
    from io import BytesIO

    from pypdf import PdfReader

    text = PdfReader(BytesIO(r.content)).pages[0].extract_text()
    assert "Night Concert" in text and booking["ref"] in text and "Ticket 1 of 2" in text
    await at_doors(world)
    assert (await scan(world, decoded[1]))["result"] == "ok"


async def test_receipt_pdf_shows_the_booking(world: World) -> None:
    booking = await confirmed_booking(world, quantity=2)
    r = await world.client.get(f"/api/v1/bookings/{booking['ref']}/receipt.pdf",
                               headers=world.headers["customer_a"])
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    from io import BytesIO

    from pypdf import PdfReader

    text = PdfReader(BytesIO(r.content)).pages[0].extract_text()
    assert "Receipt" in text and booking["ref"] in text and "50.00 EUR" in text


async def test_email_attachments_carry_the_tickets(world: World) -> None:
    from bookpulse.adapters.tickets.render import attachments_for

    booking = await confirmed_booking(world, quantity=2)
    issued = [t["token"] for t in await tickets(world, booking["ref"])]
    c = world.container
    files = await attachments_for(c.db, booking["ref"], c.settings)
    names = [f[0] for f in files]
    assert names == [f"ticket-{booking['ref']}-1.png", f"ticket-{booking['ref']}-2.png",
                     f"tickets-{booking['ref']}.pdf"]
    assert [decode_png(f[2])[0] for f in files[:2]] == issued
    assert decode_pdf(files[2][2]) == issued
    await at_doors(world)
    assert (await scan(world, decode_png(files[0][2])[0]))["result"] == "ok"
    # No tickets, no attachments (a pending booking, an unknown reference).
    pending = (await world.book("customer_b")).json()["ref"]
    assert await attachments_for(c.db, pending, c.settings) == []
    assert await attachments_for(c.db, "BP-ZZZZZZ", c.settings) == []


async def test_ticket_page_shows_svg_qr_codes(world: World) -> None:
    booking = await confirmed_booking(world, quantity=2)
    r = await world.client.get(f"/bookings/{booking['ref']}/tickets",
                               headers=world.headers["customer_a"])
    assert r.status_code == 200, r.text
    assert r.text.count("<title>Ticket QR code</title>") == 2 and "Ticket 2 of 2" in r.text


async def test_public_keys_list_the_verifying_keys(world: World) -> None:
    booking = await confirmed_booking(world, quantity=1)
    await tickets(world, booking["ref"])  # the first ticket makes the organization's key
    r = await world.client.get(f"/api/v1/orgs/{world.org1}/ticket-keys")
    assert r.status_code == 200
    (key,) = r.json()
    assert key["kid"] == 1 and key["status"] == "active" and key["alg"] == "Ed25519"
    assert "private" not in str(r.json())
    rot = await world.client.post(f"/api/v1/orgs/{world.org1}/ticket-keys/rotate",
                                  headers=world.headers["admin_1"])
    assert rot.status_code == 201 and rot.json()["kid"] == 2
    denied = await world.client.post(f"/api/v1/orgs/{world.org1}/ticket-keys/rotate",
                                     headers=world.headers["staff_1"])
    assert denied.status_code == 403
    keys = (await world.client.get(f"/api/v1/orgs/{world.org1}/ticket-keys")).json()
    assert [(k["kid"], k["status"]) for k in keys] == [(1, "previous"), (2, "active")]
    r = await world.client.post(f"/api/v1/orgs/{world.org1}/ticket-keys/2/retire",
                                headers=world.headers["admin_1"])
    assert r.status_code == 409  # the active key signs; rotate first
    r = await world.client.post(f"/api/v1/orgs/{world.org1}/ticket-keys/1/retire",
                                headers=world.headers["admin_1"])
    assert r.status_code == 204
    keys = (await world.client.get(f"/api/v1/orgs/{world.org1}/ticket-keys")).json()
    assert [k["kid"] for k in keys] == [2]


async def test_private_keys_are_stored_encrypted(world: World) -> None:
    from sqlalchemy import select

    from bookpulse.adapters.db.models.tickets import TicketKey

    booking = await confirmed_booking(world, quantity=1)
    await tickets(world, booking["ref"])
    async with world.container.db(write=False) as uow:
        row = (await uow.session.execute(select(TicketKey))).scalar_one()
    assert row.private_key_enc.startswith("v1.")
    from bookpulse.adapters.tickets.crypto import Ed25519TicketCrypto, KeyUnavailable

    other = Ed25519TicketCrypto("another-secret")
    try:
        other.sign(org_id=row.org_id, kid=row.kid, sealed=row.private_key_enc, payload=b"x")
    except KeyUnavailable:
        pass
    else:
        raise AssertionError("a different SECRET_KEY opened the sealed key")


async def test_bad_inputs_get_problems_not_server_errors(world: World) -> None:
    booking = await confirmed_booking(world, quantity=1)
    ref = booking["ref"]
    staff = world.headers["staff_1"]
    bodies: list[object] = [
        {}, [], None, "x", {"token": ""}, {"token": None, "reference": None},
        {"token": 5}, {"token": "A" * 401}, {"reference": "BP-" + "Z" * 50},
        {"token": "é" * 100}, {"token": "\x00\x01"}, {"reference": "../../etc"},
        {"reference": ref, "position": -1}, {"reference": ref, "position": 99},
        {"token": "ABC", "gate": "g" * 81}, {"reference": ref, "device_id": ["x"]},
    ]
    for body in bodies:
        r = await world.client.post("/api/v1/checkin", json=body, headers=staff)
        assert r.status_code in (200, 422), (body, r.status_code, r.text)
    syncs: list[object] = [
        {}, {"scans": None}, {"scans": [{}]}, {"scans": [{"scanned_at": "yesterday"}]},
        {"scans": [{"scanned_at": "2026-06-01T12:00:00"}]},
        {"scans": [{"scanned_at": "9999-12-31T23:59:59+00:00", "token": "AAAA"}]},
        {"scans": [{"scanned_at": "0001-01-01T00:00:00+00:00", "reference": ref}]},
        {"scans": [{"scanned_at": "2026-06-01T12:00:00+14:00", "reference": "nope"}] * 3},
        {"scans": [{"scanned_at": "2026-06-01T12:00:00Z"}] * 501},
    ]
    for body in syncs:
        r = await world.client.post("/api/v1/checkin/sync", json=body, headers=staff)
        assert r.status_code in (200, 422), (str(body)[:80], r.status_code, r.text)
    paths = [f"/api/v1/bookings/{ref}/tickets/0.png", f"/api/v1/bookings/{ref}/tickets/x.svg",
             f"/api/v1/bookings/{ref}/tickets/99999999999.png", "/api/v1/bookings/%00/tickets",
             "/api/v1/bookings/" + "A" * 300 + "/tickets.pdf", "/api/v1/bookings/x/receipt.pdf",
             f"/api/v1/orgs/{world.org1}/checkin/list?day=x",
             f"/api/v1/orgs/{world.org1}/checkin/list?session_id=999999",
             f"/api/v1/orgs/{world.org1}/checkin/stats?day=0001-01-01",
             f"/api/v1/orgs/{world.org1}/checkin/stats?day=9999-12-31",
             "/api/v1/orgs/0/ticket-keys", "/api/v1/orgs/999999/ticket-keys"]
    for path in paths:
        r = await world.client.get(path, headers=staff)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
