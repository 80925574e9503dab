"""Authorization matrix for the notification routes: every route x every caller (see
tests/integration/authz.py). Organization settings, webhooks and deliveries are for the
organization's admins; preferences, push subscriptions and the inbox are the caller's own;
a booking's delivery status follows the booking.

To keep the suite lean each route gets one world and all six callers in turn, admin 1
last: every caller before it is either refused (nothing changes) or changes only its own
things (preferences, subscriptions, inbox), so no outcome depends on an earlier call."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bookpulse.adapters.db.models.notify import Delivery
from bookpulse.adapters.notify.runtime import pump
from tests.conftest import World, build_world
from tests.integration.authz import (
    ADMIN_1,
    CALLERS,
    OK,
    OWNER_OR_ORG,
    PUBLIC,
    SIGNED_IN,
    Case,
)
from tests.integration.notify_support import install_fakes

KEYS = {"p256dh": "BO" + "A" * 85, "auth": "A" * 22}


async def _endpoint(w: World) -> dict[str, Any]:
    r = await w.client.post(f"/api/v1/orgs/{w.org1}/webhooks",
                            json={"url": "https://hooks.example.com/x"},
                            headers=w.headers["admin_1"])
    assert r.status_code == 201, r.text
    return {"endpoint": r.json()["id"]}


async def _delivered(w: World) -> dict[str, Any]:
    """An endpoint and a webhook delivery already sent (fake channel)."""
    install_fakes(w.container)
    extra = await _endpoint(w)
    assert (await w.book("customer_a")).status_code == 201
    await pump(w.container)
    async with w.container.db(write=False) as uow:
        d = (await uow.session.scalars(select(Delivery).where(
            Delivery.channel == "webhook", Delivery.status == "sent"))).first()
    assert d is not None
    return {**extra, "delivery": d.id}


H = "/api/v1/orgs/{org_id}/webhooks/{endpoint_id}"
CASES = [
    Case("GET", "/api/v1/me/notification-preferences", SIGNED_IN,
         lambda w, x: "/api/v1/me/notification-preferences"),
    Case("PUT", "/api/v1/me/notification-preferences", SIGNED_IN,
         lambda w, x: "/api/v1/me/notification-preferences",
         lambda w, x: {"preferences": {"reminder": {"sms": True}}}),
    Case("GET", "/api/v1/orgs/{org_id}/notification-settings", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/notification-settings"),
    Case("PUT", "/api/v1/orgs/{org_id}/notification-settings", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/notification-settings",
         lambda w, x: {"sender_name": "Org One Tickets"}),
    Case("GET", "/api/v1/push/vapid-public-key", PUBLIC,
         lambda w, x: "/api/v1/push/vapid-public-key"),
    Case("POST", "/api/v1/push/subscriptions", SIGNED_IN,
         lambda w, x: "/api/v1/push/subscriptions",
         lambda w, x: {"endpoint": "https://push.example.com/s/1", "keys": KEYS}),
    Case("DELETE", "/api/v1/push/subscriptions", SIGNED_IN,
         lambda w, x: "/api/v1/push/subscriptions?endpoint=https://push.example.com/s/1"),
    Case("GET", "/api/v1/orgs/{org_id}/webhooks", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/webhooks"),
    Case("POST", "/api/v1/orgs/{org_id}/webhooks", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/webhooks",
         lambda w, x: {"url": "https://hooks.example.com/new"}),
    Case("GET", H, ADMIN_1, lambda w, x: f"/api/v1/orgs/{w.org1}/webhooks/{x['endpoint']}"),
    Case("PATCH", H, ADMIN_1, lambda w, x: f"/api/v1/orgs/{w.org1}/webhooks/{x['endpoint']}",
         lambda w, x: {"description": "renamed"}),
    Case("DELETE", H, ADMIN_1, lambda w, x: f"/api/v1/orgs/{w.org1}/webhooks/{x['endpoint']}"),
    Case("POST", H + "/rotate-secret", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/webhooks/{x['endpoint']}/rotate-secret"),
    Case("GET", H + "/deliveries", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/webhooks/{x['endpoint']}/deliveries"),
    Case("POST", H + "/deliveries/{delivery_id}/redeliver", ADMIN_1,
         lambda w, x: (f"/api/v1/orgs/{w.org1}/webhooks/{x['endpoint']}/deliveries/"
                       f"{x['delivery']}/redeliver")),
    Case("GET", "/api/v1/orgs/{org_id}/deliveries", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/deliveries?status=dead"),
    Case("POST", "/api/v1/orgs/{org_id}/deliveries/{delivery_id}/retry", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/deliveries/{x['delivery']}/retry"),
    Case("GET", "/api/v1/bookings/{ref}/deliveries", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/deliveries"),
    Case("GET", "/api/v1/notifications", SIGNED_IN, lambda w, x: "/api/v1/notifications"),
    Case("GET", "/api/v1/notifications/unread-count", SIGNED_IN,
         lambda w, x: "/api/v1/notifications/unread-count"),
    Case("POST", "/api/v1/notifications/read", SIGNED_IN,
         lambda w, x: "/api/v1/notifications/read", lambda w, x: {"ids": [1, 2]}),
    Case("POST", "/api/v1/notifications/{notification_id}/read", SIGNED_IN,
         lambda w, x: "/api/v1/notifications/1/read"),
    Case("POST", "/api/v1/notifications/read-all", SIGNED_IN,
         lambda w, x: "/api/v1/notifications/read-all"),
]

SETUPS = {H: _endpoint, H + "/rotate-secret": _endpoint, H + "/deliveries": _endpoint,
          H + "/deliveries/{delivery_id}/redeliver": _delivered,
          "/api/v1/orgs/{org_id}/deliveries/{delivery_id}/retry": _delivered}

ORDER = ["anonymous", "customer_a", "customer_b", "staff_1", "admin_2", "admin_1"]
assert sorted(ORDER) == sorted(CALLERS)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.route}" for c in CASES])
async def test_notify_route_authorization(case: Case, container: Any, client: Any) -> None:
    world = await build_world(container, client)
    booking = await world.book("customer_a")
    assert booking.status_code == 201
    extra: dict[str, Any] = {"ref": booking.json()["ref"]}
    setup = SETUPS.get(case.route)
    if setup is not None:
        extra.update(await setup(world))
    for caller in ORDER:
        r = await client.request(case.method, case.path(world, extra),
                                 json=case.body(world, extra) if case.body else None,
                                 headers=world.headers[caller])
        expected = case.expect[caller]
        ok = 200 <= r.status_code < 300 if expected == OK else r.status_code == expected
        assert ok, f"{caller}: expected {expected}, got {r.status_code}: {r.text}"
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json")
