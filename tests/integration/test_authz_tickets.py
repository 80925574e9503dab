"""Authorization matrix for the ticket and check-in routes: every route x every caller
(see tests/integration/authz.py), on a world whose booking (customer A's, org 1) is
confirmed so it has tickets, with the clock at the doors so a scan really admits.

What the code implements, and why it is the right answer:

- A booking's tickets, QR codes, ticket PDF and receipt: the customer who owns it and
  its organization's staff and admins (``OWNER_OR_ORG``); anyone else is told the
  booking does not exist (404), so references stay private.
- Check-in (scan, typed reference, offline sync): staff and admins only; a customer is
  refused (403). Staff of another organization get 200 with ``result: invalid`` and no
  booking (the scanner's protocol answers every ticket) and admit nobody: asserted below.
- Ticket keys: the public keys are public by design (offline scanners verify with them);
  rotating and retiring are for the organization's admins (``ADMIN_1``).
- The door's list and counter: the organization's staff and admins (``MEMBERS``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World, build_world
from tests.integration.authz import (
    ADMIN_1,
    CALLERS,
    MEMBERS,
    OK,
    OWNER_OR_ORG,
    PUBLIC,
    Case,
    run_case,
)
from tests.integration.ticket_helpers import at_doors


async def _ref(w: World) -> str:
    r = await w.client.get("/api/v1/bookings", headers=w.headers["customer_a"])
    assert r.status_code == 200, r.text
    (booking,) = r.json()["items"]
    return str(booking["ref"])


async def _confirmed(w: World) -> dict[str, Any]:
    """Confirm customer A's booking (admin 1) and issue its tickets; the clock moves to
    an hour before the session, when its tickets admit."""
    ref = await _ref(w)
    r = await w.client.post(f"/api/v1/bookings/{ref}/transitions",
                            json={"action": "confirm"}, headers=w.headers["admin_1"])
    assert r.status_code == 200, r.text
    r = await w.client.get(f"/api/v1/bookings/{ref}/tickets", headers=w.headers["customer_a"])
    assert r.status_code == 200, r.text
    await at_doors(w)
    return {"token": r.json()[0]["token"]}


async def _rotated(w: World) -> dict[str, Any]:
    """Tickets issued (key 1 made), then a rotation: ``kid`` is the previous key, which
    an admin may retire."""
    extra = await _confirmed(w)
    r = await w.client.get(f"/api/v1/orgs/{w.org1}/ticket-keys")
    (first,) = r.json()
    r = await w.client.post(f"/api/v1/orgs/{w.org1}/ticket-keys/rotate",
                            headers=w.headers["admin_1"])
    assert r.status_code == 201, r.text
    return {**extra, "kid": first["kid"]}


def _scan(w: World, x: dict[str, Any]) -> dict[str, Any]:
    return {"scans": [{"token": x["token"], "scanned_at": w.container.clock.now().isoformat(),
                       "device_id": "door-1"}]}


#: Staff and admins of any organization get an answer; the answer for another
#: organization's ticket is ``invalid`` (see the tests below the matrix).
SCANNERS: dict[str, int | str] = {"anonymous": 401, "customer_a": 403, "customer_b": 403,
                                  "staff_1": OK, "admin_1": OK, "admin_2": OK}

CASES = [
    Case("GET", "/api/v1/bookings/{ref}/tickets", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/tickets"),
    Case("GET", "/api/v1/bookings/{ref}/tickets.pdf", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/tickets.pdf"),
    Case("GET", "/api/v1/bookings/{ref}/tickets/{position}.png", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/tickets/1.png"),
    Case("GET", "/api/v1/bookings/{ref}/tickets/{position}.svg", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/tickets/1.svg"),
    Case("GET", "/api/v1/bookings/{ref}/receipt.pdf", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/receipt.pdf"),
    Case("POST", "/api/v1/checkin", SCANNERS, lambda w, x: "/api/v1/checkin",
         lambda w, x: {"token": x["token"], "gate": "Main"}),
    Case("POST", "/api/v1/checkin#reference", SCANNERS, lambda w, x: "/api/v1/checkin",
         lambda w, x: {"reference": x["ref"]}),
    Case("POST", "/api/v1/checkin/sync", SCANNERS, lambda w, x: "/api/v1/checkin/sync",
         _scan),
    Case("GET", "/api/v1/orgs/{org_id}/ticket-keys", PUBLIC,
         lambda w, x: f"/api/v1/orgs/{w.org1}/ticket-keys"),
    Case("POST", "/api/v1/orgs/{org_id}/ticket-keys/rotate", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/ticket-keys/rotate"),
    Case("POST", "/api/v1/orgs/{org_id}/ticket-keys/{kid}/retire", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/ticket-keys/{x['kid']}/retire"),
    Case("GET", "/api/v1/orgs/{org_id}/checkin/list", MEMBERS,
         lambda w, x: f"/api/v1/orgs/{w.org1}/checkin/list"),
    Case("GET", "/api/v1/orgs/{org_id}/checkin/stats", MEMBERS,
         lambda w, x: f"/api/v1/orgs/{w.org1}/checkin/stats"),
]

#: Every route but the retirement needs just a confirmed booking with tickets.
SETUPS = {"/api/v1/orgs/{org_id}/ticket-keys/{kid}/retire": _rotated}

MATRIX = [(case, caller) for case in CASES for caller in CALLERS]


@pytest.mark.parametrize(("case", "caller"), MATRIX,
                         ids=[f"{c.method} {c.route} as {who}" for c, who in MATRIX])
async def test_tickets_matrix(case: Case, caller: str, container: Any,
                             client: Any) -> None:
    await run_case(case, caller, container, client,
                   setup=SETUPS.get(case.route, _confirmed))


# What the 2xx answers say to staff of another organization ---------------------------

@pytest.fixture
async def door(container: Any, client: Any) -> tuple[World, str, str]:
    world = await build_world(container, client)
    r = await world.book("customer_a")
    assert r.status_code == 201, r.text
    extra = await _confirmed(world)
    return world, await _ref(world), extra["token"]


async def _status(w: World, ref: str) -> str:
    r = await w.client.get(f"/api/v1/bookings/{ref}", headers=w.headers["admin_1"])
    return str(r.json()["status"])


async def test_tickets_matrix_staff_of_another_org_admit_nobody_and_learn_nothing(
        door: tuple[World, str, str]) -> None:
    w, ref, token = door
    h = w.headers["admin_2"]
    now = w.container.clock.now().isoformat()
    answers = [
        (await w.client.post("/api/v1/checkin", json={"token": token}, headers=h)).json(),
        (await w.client.post("/api/v1/checkin", json={"reference": ref}, headers=h)).json(),
        *(await w.client.post("/api/v1/checkin/sync", headers=h, json={"scans": [
            {"token": token, "scanned_at": now, "device_id": "d"},
            {"reference": ref, "scanned_at": now, "device_id": "d"}]})).json()["results"],
    ]
    assert [a["result"] for a in answers] == ["invalid"] * 4
    assert all(a["booking"] is None and a["admitted"] == 0 for a in answers)
    assert all(ref not in repr(a) and "alice" not in repr(a).lower() for a in answers)
    assert await _status(w, ref) == "confirmed"
    # A typed reference that exists in another organization reads like one that does not.
    unknown = await w.client.post("/api/v1/checkin", json={"reference": "BP-ZZZZZZ"},
                                  headers=h)
    typed = answers[1]
    assert (typed["result"], typed["reason"]) == (unknown.json()["result"],
                                                  unknown.json()["reason"])
    # The organization's own staff do admit it.
    r = await w.client.post("/api/v1/checkin", json={"token": token},
                            headers=w.headers["staff_1"])
    assert r.json()["result"] == "ok", r.text
    assert await _status(w, ref) == "checked_in"


async def test_tickets_matrix_door_list_is_confined_to_the_callers_organization(
        door: tuple[World, str, str]) -> None:
    w, ref, _ = door
    h = w.headers["admin_2"]
    own = await w.client.get(f"/api/v1/orgs/{w.org2}/checkin/list", headers=h)
    assert own.status_code == 200, own.text
    assert ref not in own.text and own.json()["expected"] == 0
    # Org 1's session asked for through org 2's door list: no such session.
    r = await w.client.get(f"/api/v1/orgs/{w.org2}/checkin/list",
                           params={"session_id": w.session}, headers=h)
    assert r.status_code == 404, r.text
    r = await w.client.get(f"/api/v1/orgs/{w.org2}/checkin/stats",
                           params={"session_id": w.session}, headers=h)
    assert r.status_code == 404, r.text
    mine = await w.client.get(f"/api/v1/orgs/{w.org1}/checkin/list",
                              params={"session_id": w.session}, headers=w.headers["staff_1"])
    assert [t["ref"] for t in mine.json()["tickets"]] == [ref]


async def test_tickets_matrix_public_keys_carry_no_private_material(
        door: tuple[World, str, str]) -> None:
    w, _, _ = door
    r = await w.client.get(f"/api/v1/orgs/{w.org1}/ticket-keys")
    assert r.status_code == 200, r.text
    (key,) = r.json()
    assert set(key) == {"org_id", "kid", "alg", "format", "public_key", "status",
                        "created_at"}
    assert (await w.client.get("/api/v1/orgs/999999/ticket-keys")).status_code == 404
