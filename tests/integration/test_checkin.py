"""Check-in: only genuine, current tickets of the scanner's organization admit, each
person once; refusals say why; offline scans sync with conflicts reported."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

import httpx
import pytest

from bookpulse.bootstrap import Container
from bookpulse.domain import tickets as tk
from bookpulse.services.checkin import check_in_ticket
from tests.conftest import World, build_world
from tests.integration.ticket_helpers import (
    at_doors,
    confirmed_booking,
    move_clock,
    scan,
    tickets,
)


def _altered(token: str, **changes: object) -> str:
    """The same signature over claims changed after signing."""
    claims, _payload, signature = tk.split(token)
    fields = {f: getattr(claims, f) for f in claims.__dataclass_fields__}
    fields.update(changes)
    return tk.encode(tk.serialize(tk.TicketClaims(**fields)), signature)  # type: ignore[arg-type]


async def _one_ticket(world: World, quantity: int = 1) -> tuple[str, str]:
    booking = await confirmed_booking(world, quantity=quantity)
    return booking["ref"], (await tickets(world, booking["ref"]))[0]["token"]


async def test_each_person_of_a_group_is_admitted_once(world: World) -> None:
    booking = await confirmed_booking(world, quantity=3)
    issued = [t["token"] for t in await tickets(world, booking["ref"])]
    await at_doors(world)
    assert [(await scan(world, t))["result"] for t in issued] == ["ok"] * 3
    assert (await scan(world, issued[1]))["result"] == "already_checked_in"
    events = (await world.client.get(f"/api/v1/bookings/{booking['ref']}/events",
                                     headers=world.headers["admin_1"])).json()
    checkins = [e for e in events if e["type"] == "checked_in"]
    assert [e["data"]["positions"] for e in checkins] == [[0], [1], [2]]
    assert [e["to_status"] for e in checkins] == ["checked_in"] * 3


async def test_forged_and_altered_tickets_are_invalid(world: World) -> None:
    _ref, token = await _one_ticket(world, quantity=2)
    await at_doors(world)
    raw = bytearray(base64.b32decode(token + "=" * (-len(token) % 8)))
    raw[-1] ^= 0x01  # a flipped signature bit
    forged_sig = base64.b32encode(bytes(raw)).decode().rstrip("=")
    cases = {
        "forged signature": forged_sig,
        "other position": _altered(token, position=1),
        "other booking": _altered(token, ref="BP-ZZZZZZ"),
        "longer validity": _altered(
            token, valid_until=tk.split(token)[0].valid_until + timedelta(days=30)),
        "garbage": "HELLO-WORLD",
        "truncated": token[:40],
        "not base32": token[:-3] + "!!!",
    }
    for name, bad in cases.items():
        result = await scan(world, bad)
        assert result["result"] == "invalid", name
        assert result["booking"] is None, name
    assert (await scan(world, token))["result"] == "ok"


async def test_a_ticket_from_another_organization_is_invalid_for_its_staff(
        world: World) -> None:
    _ref, token = await _one_ticket(world)
    await at_doors(world)
    result = await scan(world, token, who="admin_2")
    assert result == {**result, "result": "invalid", "booking": None}
    # A token claiming org 2 but signed by org 1's key does not verify with org 2's keys.
    assert (await scan(world, _altered(token, org_id=world.org2), who="admin_2"))["result"] \
        == "invalid"
    r = await world.client.post("/api/v1/checkin", json={"token": token},
                                headers=world.headers["customer_a"])
    assert r.status_code == 403
    assert (await scan(world, token))["result"] == "ok"


async def test_retired_key_tickets_are_refused_rotated_ones_still_admit(world: World) -> None:
    b1 = await confirmed_booking(world, quantity=1)
    b2 = await confirmed_booking(world, quantity=1)
    old1 = (await tickets(world, b1["ref"]))[0]["token"]
    old2 = (await tickets(world, b2["ref"]))[0]["token"]
    r = await world.client.post(f"/api/v1/orgs/{world.org1}/ticket-keys/rotate",
                                headers=world.headers["admin_1"])
    assert r.status_code == 201
    new1 = (await tickets(world, b1["ref"]))[0]["token"]
    assert tk.split(new1)[0].key_id == 2 and new1 != old1
    await at_doors(world)
    assert (await scan(world, old1))["result"] == "ok"  # previous key still verifies
    r = await world.client.post(f"/api/v1/orgs/{world.org1}/ticket-keys/1/retire",
                                headers=world.headers["admin_1"])
    assert r.status_code == 204
    result = await scan(world, old2)
    assert result["result"] == "invalid" and "retired" in result["reason"]
    new2 = (await tickets(world, b2["ref"]))[0]["token"]
    assert (await scan(world, new2))["result"] == "ok"


async def test_tickets_admit_only_in_their_window(world: World) -> None:
    _ref, token = await _one_ticket(world)
    early = await scan(world, token)  # ten days before the session
    assert early["result"] == "not_valid_now" and "Not valid yet" in early["reason"]
    # The session ends 3 h after it starts; tickets close 6 h after that.
    await move_clock(world, timedelta(days=10, hours=9, minutes=1))
    late = await scan(world, token)
    assert late["result"] == "not_valid_now" and "Expired" in late["reason"]


async def test_cancelled_booking_tickets_are_refused(world: World) -> None:
    ref, token = await _one_ticket(world)
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "cancel"}, headers=world.headers["customer_a"])
    assert r.status_code == 200, r.text
    await at_doors(world)
    result = await scan(world, token)
    assert result["result"] == "cancelled" and result["booking"]["status"] == "cancelled"


async def test_manual_reference_admits_the_group_then_service_starts_and_completes(
        world: World) -> None:
    booking = await confirmed_booking(world, quantity=2)
    ref = booking["ref"]
    await at_doors(world)
    r = await world.client.post("/api/v1/checkin", json={"reference": ref.lower()},
                                headers=world.headers["staff_1"])
    body = r.json()
    assert body["result"] == "ok" and body["admitted"] == 2
    assert set(body["booking"]["allowed_actions"]) >= {"start", "complete"}
    again = await world.client.post("/api/v1/checkin", json={"reference": ref},
                                    headers=world.headers["staff_1"])
    assert again.json()["result"] == "already_checked_in"
    for action, status in (("start", "in_service"), ("complete", "completed")):
        r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                    json={"action": action}, headers=world.headers["staff_1"])
        assert r.status_code == 200 and r.json()["status"] == status
    token = (await tickets(world, ref))[0]["token"]
    assert (await scan(world, token))["result"] == "already_checked_in"
    bad = await world.client.post("/api/v1/checkin", json={"reference": "nonsense!"},
                                  headers=world.headers["staff_1"])
    assert bad.json()["result"] == "invalid"
    both = await world.client.post("/api/v1/checkin", json={"reference": ref, "token": token},
                                   headers=world.headers["staff_1"])
    assert both.status_code == 422


async def test_whole_booking_checked_in_by_transition_counts_as_already(world: World) -> None:
    ref, token = await _one_ticket(world, quantity=2)
    await at_doors(world)
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "check_in"}, headers=world.headers["admin_1"])
    assert r.status_code == 200
    result = await scan(world, token)
    assert result["result"] == "already_checked_in" and result["checked_in_by"]


async def test_door_list_and_counter_for_a_day_and_a_session(world: World) -> None:
    b1 = await confirmed_booking(world, quantity=2)
    b2 = await confirmed_booking(world, quantity=1)
    await world.book("customer_b", quantity=1)  # pending: not expected at the door
    await world.client.post(f"/api/v1/bookings/{b2['ref']}/transitions",
                            json={"action": "cancel"}, headers=world.headers["customer_a"])
    token = (await tickets(world, b1["ref"]))[0]["token"]
    await at_doors(world)
    day = b1["start"][:10]
    url = f"/api/v1/orgs/{world.org1}/checkin"
    stats = (await world.client.get(f"{url}/stats?day={day}",
                                    headers=world.headers["staff_1"])).json()
    assert stats == {"expected": 2, "checked_in": 0}
    await scan(world, token)
    for query in (f"day={day}", f"session_id={world.session}"):
        stats = (await world.client.get(f"{url}/stats?{query}",
                                        headers=world.headers["staff_1"])).json()
        assert stats == {"expected": 2, "checked_in": 1}, query
    listing = (await world.client.get(f"{url}/list?day={day}",
                                      headers=world.headers["staff_1"])).json()
    states = sorted((t["ref"], t["position"], t["status"]) for t in listing["tickets"])
    assert states == sorted([(b1["ref"], 0, "checked_in"), (b1["ref"], 1, "valid"),
                             (b2["ref"], 0, "cancelled")])
    assert [k["kid"] for k in listing["keys"]] == [1]
    assert [s["id"] for s in listing["sessions"]] == [world.session]
    for who, code in (("admin_2", 403), ("customer_a", 403)):
        r = await world.client.get(f"{url}/list?day={day}", headers=world.headers[who])
        assert r.status_code == code, who
    r = await world.client.get(f"{url}/stats?day=2026-13-01", headers=world.headers["staff_1"])
    assert r.status_code == 422


class TestOnBothDatabases:
    """What depends on the database (locks, savepoints, timestamps) runs on both."""

    @pytest.fixture
    def database_url(self, db_url: str) -> str:
        return db_url

    async def test_ok_writes_a_checked_in_event_with_scanner_and_gate(self, world: World) -> None:
        ref, token = await _one_ticket(world)
        await at_doors(world)
        result = await scan(world, token, gate="North door", device_id="phone-7")
        assert result["result"] == "ok" and result["booking"]["ref"] == ref
        events = (await world.client.get(f"/api/v1/bookings/{ref}/events",
                                         headers=world.headers["customer_a"])).json()
        last = events[-1]
        assert (last["type"], last["from_status"], last["to_status"]) == \
            ("checked_in", "confirmed", "checked_in")
        assert last["data"]["gate"] == "North door" and last["data"]["device_id"] == "phone-7"
        assert last["data"]["scanner"] == "Staff One" and last["data"]["positions"] == [0]
        again = await scan(world, token)
        assert again["result"] == "already_checked_in"
        assert again["checked_in_by"] == "Staff One" and again["checked_in_at"]

    async def test_offline_sync_reports_a_ticket_scanned_on_two_devices(self, world: World) -> None:
        ref, token = await _one_ticket(world)
        other_ref, other = await _one_ticket(world)
        await at_doors(world)
        now = world.container.clock.now()
        scans = [
            {"token": token, "scanned_at": (now - timedelta(minutes=5)).isoformat(),
             "device_id": "A", "gate": "North"},
            {"token": token, "scanned_at": (now - timedelta(minutes=3)).isoformat(),
             "device_id": "B"},
            {"reference": other_ref, "scanned_at": (now - timedelta(minutes=4)).isoformat(),
             "device_id": "B"},
            {"token": "JUNK", "scanned_at": now.isoformat(), "device_id": "B"},
        ]
        r = await world.client.post("/api/v1/checkin/sync", json={"scans": scans},
                                    headers=world.headers["staff_1"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert [x["result"] for x in body["results"]] == \
            ["ok", "already_checked_in", "ok", "invalid"]
        (conflict,) = body["conflicts"]
        assert conflict["index"] == 1 and conflict["first_device_id"] == "A"
        assert conflict["booking"]["ref"] == ref
        # The first scan's time is kept; re-sending device A's scan is a harmless duplicate.
        assert body["results"][0]["checked_in_at"].startswith(
            (now - timedelta(minutes=5)).isoformat()[:16])
        r = await world.client.post("/api/v1/checkin/sync", json={"scans": scans[:1]},
                                    headers=world.headers["staff_1"])
        (replay,) = r.json()["results"]
        assert replay["result"] == "ok" and replay["duplicate"] and not r.json()["conflicts"]
        assert (await scan(world, other))["result"] == "already_checked_in"

    async def test_two_scanners_at_once_admit_exactly_once(
            self, container: Container, client: httpx.AsyncClient) -> None:
        world = await build_world(container, client)
        booking = await confirmed_booking(world, quantity=2)
        token = (await tickets(world, booking["ref"]))[0]["token"]
        await at_doors(world)
        c = world.container
        from bookpulse.entrypoints.api.tickets import ticket_crypto
        from bookpulse.services import accounts

        async with c.db(write=False) as uow:
            staff = await uow.users.by_email("staff1@example.com")
        principal = await accounts.load_principal(db=c.db, user_id=staff.id)

        async def one(i: int) -> str:
            out = await check_in_ticket(db=c.db, crypto=ticket_crypto(c), principal=principal,
                                        token=token, now=c.clock.now(), device_id=f"d{i}")
            return out.result

        results = await asyncio.gather(*(one(i) for i in range(8)))
        assert sorted(results) == ["already_checked_in"] * 7 + ["ok"]
        events = (await world.client.get(f"/api/v1/bookings/{booking['ref']}/events",
                                         headers=world.headers["admin_1"])).json()
        assert sum(e["type"] == "checked_in" for e in events) == 1

    async def test_first_tickets_issued_at_once_share_one_key(
            self, container: Container, client: httpx.AsyncClient) -> None:
        from bookpulse.entrypoints.api.tickets import ticket_crypto
        from bookpulse.services.tickets import active_key

        world = await build_world(container, client)
        c = world.container
        keys = await asyncio.gather(*(
            active_key(db=c.db, crypto=ticket_crypto(c), org_id=world.org2, now=c.clock.now())
            for _ in range(6)))
        assert {(k.org_id, k.kid) for k in keys} == {(world.org2, 1)}
        async with c.db(write=False) as uow:
            assert [k.kid for k in await uow.tickets.keys(world.org2)] == [1]

    async def test_a_second_row_for_a_position_is_refused_and_the_transaction_lives_on(
            self, container: Container, client: httpx.AsyncClient) -> None:
        world = await build_world(container, client)
        booking = await confirmed_booking(world, quantity=2)
        c = world.container
        now = c.clock.now()
        async with c.db(write=True) as uow:
            b = await uow.bookings.get_by_ref(booking["ref"], for_update=True)
            assert b is not None
            row = dict(org_id=b.org_id, booking_id=b.id, checked_in_at=now, scanned_at=now,
                       actor_id=None, actor_name="t", gate=None, device_id=None, source="scan")
            assert await uow.tickets.add_checkin(position=0, **row) is True
            assert await uow.tickets.add_checkin(position=0, **row) is False
            assert await uow.tickets.add_checkin(position=1, **row) is True
            await uow.commit()
        async with c.db(write=False) as uow:
            assert [r.position for r in await uow.tickets.checkins(b.id)] == [0, 1]


async def test_scanner_page_is_for_staff(world: World) -> None:
    r = await world.client.get("/staff/scan")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await world.client.get("/staff/scan", headers=world.headers["customer_a"])
    assert r.status_code == 403
    r = await world.client.get(f"/staff/scan?org={world.org1}",
                               headers=world.headers["staff_1"])
    assert r.status_code == 200 and 'id="scan-code"' in r.text
    assert f'<option value="{world.org1}" selected>' in r.text


async def test_already_in_is_reported_even_outside_the_window(world: World) -> None:
    _ref, token = await _one_ticket(world)
    await at_doors(world)
    assert (await scan(world, token))["result"] == "ok"
    await move_clock(world, timedelta(days=2))
    late = await scan(world, token)
    assert late["result"] == "already_checked_in" and late["checked_in_by"] == "Staff One"


async def test_another_organizations_reference_is_no_such_booking(world: World) -> None:
    booking = await confirmed_booking(world, quantity=1)
    await at_doors(world)
    theirs = await world.client.post("/api/v1/checkin", json={"reference": booking["ref"]},
                                     headers=world.headers["admin_2"])
    unknown = await world.client.post("/api/v1/checkin", json={"reference": "BP-ZZZZZZ"},
                                      headers=world.headers["admin_2"])
    assert theirs.json() == unknown.json()
    assert theirs.json()["result"] == "invalid" and theirs.json()["booking"] is None
