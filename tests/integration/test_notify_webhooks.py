"""Webhooks to a local receiver: Standard Webhooks signatures verify with the
``standardwebhooks`` library (also across a secret rotation), a receiver failing five
times gets the event once it is up, 4xx (not 429) is not retried, 5xx/429/timeouts are,
and admins see the delivery log, dead letters, and can redeliver."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from standardwebhooks import Webhook

from bookpulse.adapters.notify.runtime import notifier_of, pump
from bookpulse.config import Settings
from tests.conftest import token_headers
from tests.integration.notify_support import Received, http_receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"notify_allow_private_targets": True,
                                       "webhook_timeout": 0.5})


async def _endpoint(world: Any, url: str, **extra: Any) -> dict[str, Any]:
    r = await world.client.post(f"/api/v1/orgs/{world.org1}/webhooks",
                                json={"url": url, **extra}, headers=world.headers["admin_1"])
    assert r.status_code == 201, r.text
    return r.json()


async def _confirm_one(world: Any) -> str:
    alice = await token_headers(world.client, "alice@example.com")
    admin = await token_headers(world.client, "admin1@example.com")
    r = await world.client.post("/api/v1/bookings", headers=alice, json={
        "offering_id": world.offering, "session_id": world.session, "quantity": 1})
    ref = r.json()["ref"]
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "confirm"}, headers=admin)
    assert r.status_code == 200, r.text
    return ref


async def _log(world: Any, endpoint_id: int) -> list[dict[str, Any]]:
    fresh = await token_headers(world.client, "admin1@example.com")  # the clock moved
    r = await world.client.get(f"/api/v1/orgs/{world.org1}/webhooks/{endpoint_id}/deliveries",
                               headers=fresh)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_signed_events_verify_with_standardwebhooks(world: Any) -> None:
    with http_receiver() as rx:
        ep = await _endpoint(world, rx.url + "/hook", event_types=["booking.confirmed"])
        ref = await _confirm_one(world)
        await pump(world.container)
    [got] = rx.received  # only the confirmed event passed the filter
    payload = Webhook(ep["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "booking.confirmed"
    assert payload["data"]["booking"]["ref"] == ref
    assert payload["data"]["event"]["to_status"] == "confirmed"
    assert got.headers["webhook-id"].startswith("evt:")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    [entry] = await _log(world, ep["id"])
    assert entry["status"] == "sent" and entry["attempt_log"][0]["status_code"] == 200


async def test_receiver_failing_five_times_then_up_gets_the_event_once(world: Any) -> None:
    def flaky(r: Received, i: int) -> tuple[int, bytes]:
        return (503, b"down") if i <= 5 else (200, b"ok")

    clock = world.container.clock
    with http_receiver(flaky) as rx:
        ep = await _endpoint(world, rx.url, event_types=["booking.confirmed"])
        await _confirm_one(world)
        await pump(world.container)
        for _ in range(8):
            clock.advance(hours=1)
            await pump(world.container)
    assert len(rx.received) == 6
    ids = {r.headers["webhook-id"] for r in rx.received}
    assert len(ids) == 1  # the same message id on every retry: receivers can de-duplicate
    [entry] = await _log(world, ep["id"])
    assert entry["status"] == "sent" and entry["attempts"] == 6
    assert [a["status_code"] for a in entry["attempt_log"]] == [503] * 5 + [200]
    assert [a["outcome"] for a in entry["attempt_log"]] == ["retry"] * 5 + ["sent"]


@pytest.mark.parametrize(("status", "retried"), [(400, False), (404, False), (410, False),
                                                 (429, True), (500, True)])
async def test_client_errors_are_not_retried_but_429_and_5xx_are(
        world: Any, status: int, retried: bool) -> None:
    clock = world.container.clock
    with http_receiver(lambda r, i: (status if i == 1 else 200, b"x")) as rx:
        ep = await _endpoint(world, rx.url, event_types=["booking.confirmed"])
        await _confirm_one(world)
        await pump(world.container)
        clock.advance(hours=1)
        await pump(world.container)
    [entry] = await _log(world, ep["id"])
    if retried:
        assert len(rx.received) == 2 and entry["status"] == "sent"
    else:
        assert len(rx.received) == 1 and entry["status"] == "dead"
        assert entry["attempt_log"][0]["status_code"] == status


async def test_timeouts_are_retried(world: Any) -> None:
    def slow_first(r: Received, i: int) -> tuple[int, bytes]:
        if i == 1:
            time.sleep(1.0)  # beyond the 0.5 s timeout
        return 200, b"ok"

    with http_receiver(slow_first) as rx:
        ep = await _endpoint(world, rx.url, event_types=["booking.confirmed"])
        await _confirm_one(world)
        await pump(world.container)
        [entry] = await _log(world, ep["id"])
        assert entry["status"] == "pending" and "timed out" in entry["last_error"]
        world.container.clock.advance(hours=1)
        await pump(world.container)
    [entry] = await _log(world, ep["id"])
    assert entry["status"] == "sent" and entry["attempts"] == 2


async def test_rotation_signs_with_old_and_new_secret_until_grace_ends(world: Any) -> None:
    c, admin = world.client, world.headers["admin_1"]
    with http_receiver() as rx:
        ep = await _endpoint(world, rx.url, event_types=["booking.confirmed"])
        old = ep["secret"]
        r = await c.post(f"/api/v1/orgs/{world.org1}/webhooks/{ep['id']}/rotate-secret",
                         json={"grace_hours": 1}, headers=admin)
        assert r.status_code == 200, r.text
        new = r.json()["secret"]
        assert new != old and r.json()["rotating_until"]
        await _confirm_one(world)
        await pump(world.container)
        world.container.clock.advance(hours=2)  # grace over: only the new secret signs
        await _confirm_one(world)
        await pump(world.container)
    first, second = rx.received
    assert Webhook(old).verify(first.body, first.headers)
    assert Webhook(new).verify(first.body, first.headers)
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(second.body, second.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(old).verify(second.body, second.headers)


async def test_dead_letters_are_listed_and_retried_by_admins_only(world: Any) -> None:
    c, h = world.client, world.headers
    answers = iter([(400, b"bad"), (200, b"ok"), (200, b"ok")])
    with http_receiver(lambda r, i: next(answers)) as rx:
        ep = await _endpoint(world, rx.url, event_types=["booking.confirmed"])
        await _confirm_one(world)
        await pump(world.container)
        r = await c.get(f"/api/v1/orgs/{world.org1}/deliveries?status=dead", headers=h["admin_1"])
        [dead] = r.json()["items"]
        assert dead["channel"] == "webhook" and dead["last_error"]
        for who in ("staff_1", "admin_2", "customer_a"):
            r = await c.get(f"/api/v1/orgs/{world.org1}/deliveries?status=dead", headers=h[who])
            assert r.status_code == 403, who
            r = await c.post(f"/api/v1/orgs/{world.org1}/deliveries/{dead['id']}/retry",
                             headers=h[who])
            assert r.status_code == 403, who
        r = await c.post(f"/api/v1/orgs/{world.org2}/deliveries/{dead['id']}/retry",
                         headers=h["admin_2"])
        assert r.status_code == 404  # another organization's delivery does not exist there
        r = await c.post(f"/api/v1/orgs/{world.org1}/deliveries/{dead['id']}/retry",
                         headers=h["admin_1"])
        assert r.status_code == 202 and r.json()["status"] == "pending"
        await pump(world.container)
        # a sent webhook can be redelivered by hand (same webhook-id)
        r = await c.post(f"/api/v1/orgs/{world.org1}/webhooks/{ep['id']}/deliveries/"
                         f"{dead['id']}/redeliver", headers=h["admin_1"])
        assert r.status_code == 202, r.text
        await pump(world.container)
    assert len(rx.received) == 3
    assert len({x.headers["webhook-id"] for x in rx.received}) == 1
    r = await c.get(f"/api/v1/orgs/{world.org1}/deliveries?status=dead", headers=h["admin_1"])
    assert r.json()["items"] == []


async def test_webhook_admin_routes_are_org_scoped_and_validate_urls(
        world: Any, settings: Settings) -> None:
    c, h = world.client, world.headers
    ep = await _endpoint(world, "https://hooks.example.com/a")
    base = f"/api/v1/orgs/{world.org1}/webhooks"
    for who in ("staff_1", "customer_a", "admin_2"):
        assert (await c.get(base, headers=h[who])).status_code == 403, who
        r = await c.post(base, json={"url": "https://x.example.com"}, headers=h[who])
        assert r.status_code == 403, who
    r = await c.get(f"/api/v1/orgs/{world.org2}/webhooks/{ep['id']}", headers=h["admin_2"])
    assert r.status_code == 404
    listed = (await c.get(base, headers=h["admin_1"])).json()["items"]
    assert [e["id"] for e in listed] == [ep["id"]] and "secret" not in listed[0]
    for bad in ("ftp://x.example.com", "not a url", "https://user:pw@x.example.com/"):
        r = await c.post(base, json={"url": bad}, headers=h["admin_1"])
        assert r.status_code == 422, bad
    r = await c.post(base, json={"url": "https://x.example.com", "event_types": ["nope"]},
                     headers=h["admin_1"])
    assert r.status_code == 422
    r = await c.patch(f"{base}/{ep['id']}", json={"is_active": False,
                                                  "event_types": ["booking.*"]},
                      headers=h["admin_1"])
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert (await c.delete(f"{base}/{ep['id']}", headers=h["admin_1"])).status_code == 204
    assert (await c.get(f"{base}/{ep['id']}", headers=h["admin_1"])).status_code == 404


async def test_private_targets_are_refused_unless_allowed(world: Any) -> None:
    world.container.settings = world.container.settings.model_copy(
        update={"notify_allow_private_targets": False})
    base = f"/api/v1/orgs/{world.org1}/webhooks"
    for url in ("http://127.0.0.1:8000/x", "http://10.0.0.8/", "http://169.254.169.254/",
                "http://localhost/", "http://[::1]/"):
        r = await world.client.post(base, json={"url": url}, headers=world.headers["admin_1"])
        assert r.status_code == 422, url
    assert notifier_of(world.container) is not None


def test_signature_matches_the_spec_example() -> None:
    """The example from the Standard Webhooks spec, signed by our code."""
    from bookpulse.adapters.notify.webhooks import sign

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    sig = sign(secret, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330,
               body=body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert json.loads(body)
