"""Factories for the inventory shapes, through the admin API (tests/conftest World)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.conftest import World

ALL_WEEK = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def _post(world: World, path: str, body: dict[str, Any], who: str = "admin_1") -> Any:
    r = await world.client.post(path, json=body, headers=world.headers[who])
    assert r.status_code == 201, r.text
    return r.json()


async def offering(world: World, kind: str, shape: str, *, timezone: str = "Europe/Berlin",
                   auto_confirm: bool = True, price: int = 1000, **extra: Any) -> int:
    body = {"kind": kind, "shape": shape, "name": f"{kind} {shape}", "price": price,
            "currency": "EUR", "auto_confirm": auto_confirm, "timezone": timezone,
            "cancel_free_hours": 0, **extra}
    return int((await _post(world, f"/api/v1/orgs/{world.org1}/offerings", body))["id"])


async def theatre(world: World, *, rows: int = 2, seats_per_row: int = 10,
                  start: datetime | None = None) -> tuple[int, int, dict[str, Any]]:
    """(offering id, session id, layout) of a seated theatre: stalls rows A.. in
    category 'Stalls' (row A premium), seat 1 of row A not for sale, seat 2 accessible."""
    layout = await _post(world, f"/api/v1/orgs/{world.org1}/layouts", {
        "name": "Main hall",
        "categories": [{"name": "Premium", "price": 5000}, {"name": "Stalls", "price": 3000}],
        "sections": [{"name": "Stalls", "rows": [
            {"label": chr(65 + i), "seats": seats_per_row,
             "category": "Premium" if i == 0 else "Stalls",
             "not_for_sale": [1] if i == 0 else [], "accessible": [2] if i == 0 else []}
            for i in range(rows)]}]})
    off = await offering(world, "event", "seats")
    start = start or world.container.clock.now() + timedelta(days=10)
    session = await _post(world, f"/api/v1/offerings/{off}/seated-sessions", {
        "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
        "layout_id": layout["id"]})
    return off, int(session["id"]), layout


async def hotel(world: World, *, units: int = 2, min_stay: int = 1,
                timezone: str = "Europe/Berlin", **extra: Any) -> tuple[int, int]:
    off = await offering(world, "hotel", "nights", timezone=timezone, **extra)
    room = await _post(world, f"/api/v1/offerings/{off}/room-types", {
        "name": "Double", "units": units, "default_rate": 12000, "min_stay": min_stay})
    return off, int(room["id"])


async def spa(world: World, *, therapists: int = 1, timezone: str = "Europe/Berlin",
              hours: dict[str, Any] | None = None, buffer_after: int = 15
              ) -> tuple[int, int, list[int]]:
    off = await offering(world, "spa", "slots", timezone=timezone)
    ids = []
    for i in range(therapists):
        r = await _post(world, f"/api/v1/offerings/{off}/resources", {
            "kind": "therapist", "name": f"Therapist {i + 1}", "skills": ["massage"],
            "weekly_hours": hours or ALL_WEEK,
            "breaks": {"mon": [["12:00", "13:00"]]}})
        ids.append(int(r["id"]))
    service = await _post(world, f"/api/v1/offerings/{off}/services", {
        "name": "Massage 60", "duration_minutes": 60, "buffer_after": buffer_after,
        "price": 8000, "skill": "massage"})
    return off, int(service["id"]), ids


async def restaurant(world: World) -> tuple[int, int, list[int]]:
    off = await offering(world, "restaurant", "slots", price=0)
    ids = []
    for name, lo, hi, comb in (("T1", 1, 2, True), ("T2", 1, 2, True), ("T3", 2, 4, False)):
        r = await _post(world, f"/api/v1/offerings/{off}/resources", {
            "kind": "table", "name": name, "min_party": lo, "max_party": hi,
            "combinable": comb, "weekly_hours": {d: [["18:00", "23:00"]] for d in ALL_WEEK}})
        ids.append(int(r["id"]))
    service = await _post(world, f"/api/v1/offerings/{off}/services", {
        "name": "Dinner", "duration_minutes": 120, "price": 0})
    return off, int(service["id"]), ids


async def book(world: World, who: str = "customer_a", **body: Any) -> Any:
    return await world.client.post("/api/v1/bookings", json=body, headers=world.headers[who])
