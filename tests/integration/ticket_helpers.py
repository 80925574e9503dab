"""Helpers for the ticket and check-in tests: a confirmed booking, QR decoding."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import zxingcpp
from PIL import Image

from tests.conftest import World, token_headers


def decode_qr(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def decode_png(data: bytes) -> list[str]:
    return decode_qr(Image.open(io.BytesIO(data)))


def decode_pdf(data: bytes) -> list[str]:
    """Every QR code in the PDF's embedded images (one per ticket page)."""
    from pypdf import PdfReader

    found: list[str] = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for img in page.images:
            if img.image is not None:
                found.extend(decode_qr(img.image))
    return found


async def confirmed_booking(world: World, *, quantity: int = 2, who: str = "customer_a"
                            ) -> dict[str, Any]:
    r = await world.book(who, quantity=quantity)
    assert r.status_code == 201, r.text
    ref = r.json()["ref"]
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "confirm"}, headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    return r.json()


async def tickets(world: World, ref: str, who: str = "customer_a") -> list[dict[str, Any]]:
    r = await world.client.get(f"/api/v1/bookings/{ref}/tickets", headers=world.headers[who])
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


EMAILS = {"admin_1": "admin1@example.com", "admin_2": "admin2@example.com",
          "staff_1": "staff1@example.com", "customer_a": "alice@example.com",
          "customer_b": "bob@example.com"}


async def move_clock(world: World, delta: timedelta) -> None:
    """Move the fake clock and sign everyone in again (access tokens expire)."""
    world.container.clock.set(world.container.clock.now() + delta)
    for who, email in EMAILS.items():
        world.headers[who] = await token_headers(world.client, email)


async def at_doors(world: World) -> None:
    """An hour before the world's session starts: its tickets admit."""
    await move_clock(world, timedelta(days=10, hours=-1))


async def scan(world: World, token: str, who: str = "staff_1", **extra: Any) -> dict[str, Any]:
    r = await world.client.post("/api/v1/checkin", json={"token": token, **extra},
                                headers=world.headers[who])
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]
