"""Authorization matrix for the inventory engine's routes (set-up, waitlist): every
route x every caller, on a world with a layout, a seated session, a hotel, a spa and a
waitlist offer (see tests/integration/authz.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import World
from tests.integration import shape_factories as f
from tests.integration.authz import (
    ADMIN_1,
    CALLERS,
    MEMBERS,
    OK,
    OWNER_OR_ORG,
    PUBLIC,
    SIGNED_IN,
    Case,
    run_case,
)

#: Routes on one organization's thing: strangers are told it does not exist.
OWNED_ADMIN = {"anonymous": 401, "customer_a": 404, "customer_b": 404, "staff_1": 403,
               "admin_1": OK, "admin_2": 404}
OWNED_MEMBERS = {**OWNED_ADMIN, "staff_1": OK}


async def _seats(w: World) -> dict[str, Any]:
    off, _session, layout = await f.theatre(w, rows=1, seats_per_row=4)
    return {"seated": off, "layout": layout["id"], "seat": layout["seats"][1]["id"]}


async def _hotel(w: World) -> dict[str, Any]:
    hotel, room = await f.hotel(w)
    return {"hotel": hotel, "room": room}


async def _spa(w: World) -> dict[str, Any]:
    spa, service, (therapist,) = await f.spa(w)
    return {"spa": spa, "service": service, "therapist": therapist}


async def _tickets(w: World) -> dict[str, Any]:
    types = await w.client.post(f"/api/v1/offerings/{w.offering}/ticket-types",
                                json={"name": "Adult", "price": 100},
                                headers=w.headers["admin_1"])
    return {"ticket_type": types.json()["id"]}


async def _waitlist(w: World) -> dict[str, Any]:
    """A sold-out session, and customer A's waitlist entry offered (pending) after
    customer B cancelled the only place; then B takes the place of a second session."""
    ga = await f.offering(w, "tour", "capacity")
    start = w.container.clock.now() + timedelta(days=7)
    span = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
            "capacity": 1}
    h = w.headers["admin_1"]
    first = (await w.client.post(f"/api/v1/offerings/{ga}/sessions", headers=h,
                                 json=span)).json()["id"]
    full = {"offering_id": ga, "session_id": first, "quantity": 1}
    taken = await f.book(w, "customer_b", **full)
    waiting = await w.client.post("/api/v1/waitlist", json=full,
                                  headers=w.headers["customer_a"])
    await w.client.post(f"/api/v1/bookings/{taken.json()['ref']}/transitions",
                        json={"action": "cancel"}, headers=w.headers["customer_b"])
    second = (await w.client.post(f"/api/v1/offerings/{ga}/sessions", headers=h,
                                  json=span)).json()["id"]
    await f.book(w, "customer_b", offering_id=ga, session_id=second)
    return {"offer": waiting.json()["ref"],
            "sold_out": {"offering_id": ga, "session_id": second, "quantity": 1}}


def _start(w: World) -> str:
    return (w.container.clock.now() + timedelta(days=30)).isoformat()


def _end(w: World) -> str:
    return (w.container.clock.now() + timedelta(days=30, hours=2)).isoformat()


CASES = [
    Case("POST", "/api/v1/orgs/{org_id}/layouts", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/layouts",
         lambda w, x: {"name": "L", "categories": [{"name": "A", "price": 1}],
                       "sections": [{"name": "S", "rows": [
                           {"label": "A", "seats": 2, "category": "A"}]}]}),
    Case("GET", "/api/v1/orgs/{org_id}/layouts", MEMBERS,
         lambda w, x: f"/api/v1/orgs/{w.org1}/layouts"),
    Case("GET", "/api/v1/layouts/{layout_id}", PUBLIC,
         lambda w, x: f"/api/v1/layouts/{x['layout']}"),
    Case("PATCH", "/api/v1/layouts/{layout_id}/seats", OWNED_ADMIN,
         lambda w, x: f"/api/v1/layouts/{x['layout']}/seats",
         lambda w, x: {"seat_ids": [x["seat"]], "accessible": True}),
    Case("POST", "/api/v1/offerings/{offering_id}/seated-sessions", OWNED_ADMIN,
         lambda w, x: f"/api/v1/offerings/{x['seated']}/seated-sessions",
         lambda w, x: {"start": _start(w), "end": _end(w), "layout_id": x["layout"]}),
    Case("POST", "/api/v1/offerings/{offering_id}/ticket-types", OWNED_ADMIN,
         lambda w, x: f"/api/v1/offerings/{w.offering}/ticket-types",
         lambda w, x: {"name": "Child", "price": 50}),
    Case("PATCH", "/api/v1/ticket-types/{type_id}", OWNED_ADMIN,
         lambda w, x: f"/api/v1/ticket-types/{x['ticket_type']}",
         lambda w, x: {"price": 120}),
    Case("POST", "/api/v1/offerings/{offering_id}/room-types", OWNED_ADMIN,
         lambda w, x: f"/api/v1/offerings/{x['hotel']}/room-types",
         lambda w, x: {"name": "Suite", "units": 1, "default_rate": 100}),
    Case("PATCH", "/api/v1/room-types/{room_type_id}", OWNED_ADMIN,
         lambda w, x: f"/api/v1/room-types/{x['room']}", lambda w, x: {"units": 5}),
    Case("PUT", "/api/v1/room-types/{room_type_id}/rates", OWNED_ADMIN,
         lambda w, x: f"/api/v1/room-types/{x['room']}/rates",
         lambda w, x: {"date_from": "2026-07-01", "date_to": "2026-07-05", "rate": 150}),
    Case("POST", "/api/v1/offerings/{offering_id}/resources", OWNED_ADMIN,
         lambda w, x: f"/api/v1/offerings/{x['spa']}/resources",
         lambda w, x: {"kind": "therapist", "name": "New"}),
    Case("PATCH", "/api/v1/resources/{resource_id}", OWNED_ADMIN,
         lambda w, x: f"/api/v1/resources/{x['therapist']}",
         lambda w, x: {"days_off": ["2026-07-01"]}),
    Case("POST", "/api/v1/offerings/{offering_id}/services", OWNED_ADMIN,
         lambda w, x: f"/api/v1/offerings/{x['spa']}/services",
         lambda w, x: {"name": "Facial", "duration_minutes": 45, "price": 100}),
    Case("PATCH", "/api/v1/services/{service_id}", OWNED_ADMIN,
         lambda w, x: f"/api/v1/services/{x['service']}", lambda w, x: {"price": 9000}),
    Case("GET", "/api/v1/offerings/{offering_id}/setup", OWNED_MEMBERS,
         lambda w, x: f"/api/v1/offerings/{x['spa']}/setup"),
    Case("POST", "/api/v1/waitlist", SIGNED_IN, lambda w, x: "/api/v1/waitlist",
         lambda w, x: x["sold_out"]),
    Case("POST", "/api/v1/waitlist/{ref}/accept", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/waitlist/{x['offer']}/accept"),
]

#: Only what each route needs, to keep the matrix fast.
SETUPS = {
    "/api/v1/layouts/{layout_id}": _seats, "/api/v1/layouts/{layout_id}/seats": _seats,
    "/api/v1/offerings/{offering_id}/seated-sessions": _seats,
    "/api/v1/ticket-types/{type_id}": _tickets,
    "/api/v1/offerings/{offering_id}/room-types": _hotel,
    "/api/v1/room-types/{room_type_id}": _hotel,
    "/api/v1/room-types/{room_type_id}/rates": _hotel,
    "/api/v1/offerings/{offering_id}/resources": _spa, "/api/v1/resources/{resource_id}": _spa,
    "/api/v1/offerings/{offering_id}/services": _spa, "/api/v1/services/{service_id}": _spa,
    "/api/v1/offerings/{offering_id}/setup": _spa,
    "/api/v1/waitlist": _waitlist, "/api/v1/waitlist/{ref}/accept": _waitlist,
}

MATRIX = [(case, caller) for case in CASES for caller in CALLERS]


@pytest.mark.parametrize(("case", "caller"), MATRIX,
                         ids=[f"{c.method} {c.route} as {who}" for c, who in MATRIX])
async def test_inventory_matrix(case: Case, caller: str, container, client) -> None:
    await run_case(case, caller, container, client, setup=SETUPS.get(case.route))
