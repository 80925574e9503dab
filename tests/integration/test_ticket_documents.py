"""Ticket documents render whatever the names contain (fpdf2 core fonts are Latin-1)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import zxingcpp
from PIL import Image

from bookpulse.adapters.tickets import render
from bookpulse.domain import tickets as tk
from bookpulse.services.tickets import IssuedTicket
from tests.unit.test_ticket_tokens import SIG, _booking


def test_pdfs_render_non_latin_names_and_qr_codes_decode() -> None:
    booking = _booking(customer_name="山田 Zoë", quantity=1,
                       details={"seats": [{"label": "Ä12"}]})
    claims = tk.claims_for(booking, key_id=1, position=0)
    token = tk.encode(tk.serialize(claims), SIG)
    ticket = IssuedTicket(position=0, token=token, seat="Ä12", claims=claims)
    offering = SimpleNamespace(name="Nuit — 東京", location="Salle 1", timezone="Europe/Paris",
                               kind="event")
    pdf = render.ticket_pdf(booking=booking, offering=offering, venue=None, org_name="Org",
                            tickets=[ticket])
    assert pdf.startswith(b"%PDF")
    receipt = render.receipt_pdf(booking=booking, offering=offering, venue=None,
                                 org_name="Org ✓")
    assert receipt.startswith(b"%PDF")
    png = render.qr_png(token)
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == [token]
    svg = render.qr_svg(token, inline=True)
    assert svg.startswith(b"<svg") and b"<?xml" not in svg


def test_times_show_in_the_venue_zone() -> None:
    booking = _booking()
    assert render.local(booking.start_at, "Europe/Paris") == "Thu 11 Jun 2026, 21:00 CEST"
