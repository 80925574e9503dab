"""Web push decrypted by a local push endpoint (http_ece, aes128gcm); the Twilio adapter's
request checked by a local HTTP server (URL, Basic auth, form fields)."""

from __future__ import annotations

import base64
import json
import os
from typing import Any
from urllib.parse import parse_qs

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update

from bookpulse.adapters.db.models import User
from bookpulse.adapters.db.models.notify import Delivery, PushSubscription
from bookpulse.adapters.notify.runtime import pump
from bookpulse.config import Settings
from tests.integration.notify_support import http_receiver


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"notify_allow_private_targets": True})


async def _confirm(world: Any) -> str:
    r = await world.book("customer_a")
    ref = r.json()["ref"]
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "confirm"}, headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    return ref


async def test_web_push_is_decrypted_by_a_local_endpoint_and_names_the_booking(
        world: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    p256dh = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    c, alice = world.client, world.headers["customer_a"]
    vapid = (await c.get("/api/v1/push/vapid-public-key")).json()["public_key"]
    assert len(base64.urlsafe_b64decode(vapid + "==")) == 65
    with http_receiver(lambda r, i: (201, b"")) as rx:
        endpoint = rx.url + "/push/device-1"
        r = await c.post("/api/v1/push/subscriptions", headers=alice, json={
            "endpoint": endpoint, "keys": {"p256dh": b64u(p256dh), "auth": b64u(auth)},
            "expirationTime": None})
        assert r.status_code == 201, r.text
        ref = await _confirm(world)
        await pump(world.container)
    [got] = rx.received
    assert got.path == "/push/device-1"
    assert got.headers["content-encoding"] == "aes128gcm"
    assert f"k={vapid}" in got.headers["authorization"]
    assert got.headers["authorization"].startswith("vapid t=")
    plain = http_ece.decrypt(got.body, private_key=key, auth_secret=auth, version="aes128gcm")
    message = json.loads(plain)
    assert message["ref"] == ref and message["kind"] == "confirmed"
    assert message["url"] == f"http://testserver/bookings/{ref}"
    assert message["title"].startswith("Confirmed")


async def test_expired_push_subscription_is_removed(world: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    p256dh = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    with http_receiver(lambda r, i: (410, b"gone")) as rx:
        r = await world.client.post("/api/v1/push/subscriptions", headers=world.headers[
            "customer_a"], json={"endpoint": rx.url + "/gone", "keys": {
                "p256dh": b64u(p256dh), "auth": b64u(os.urandom(16))}})
        assert r.status_code == 201
        await _confirm(world)
        await pump(world.container)
    async with world.container.db(write=False) as uow:
        subs = (await uow.session.scalars(select(PushSubscription))).all()
        [push] = (await uow.session.scalars(
            select(Delivery).where(Delivery.channel == "push"))).all()
    assert subs == []  # the browser dropped it; we stop trying
    assert push.status == "dead" and push.attempts == 1 and "expired" in push.last_error


async def test_push_subscription_input_is_validated(world: Any) -> None:
    c, alice = world.client, world.headers["customer_a"]
    good = {"p256dh": b64u(b"\x04" + b"a" * 64), "auth": b64u(b"b" * 16)}
    for body in ({"endpoint": "javascript:alert(1)", "keys": good},
                 {"endpoint": "https://push.example.com/x", "keys": {**good, "auth": "!!"}},
                 {"endpoint": "https://push.example.com/x", "keys": {**good, "p256dh": "abc"}}):
        r = await c.post("/api/v1/push/subscriptions", headers=alice, json=body)
        assert r.status_code == 422, body
    r = await c.post("/api/v1/push/subscriptions", json={"endpoint": "https://p.example.com/1",
                                                         "keys": good})
    assert r.status_code == 401
    r = await c.post("/api/v1/push/subscriptions", headers=alice,
                     json={"endpoint": "https://push.example.com/1", "keys": good})
    assert r.status_code == 201
    r = await c.delete("/api/v1/push/subscriptions",
                       params={"endpoint": "https://push.example.com/1"}, headers=alice)
    assert r.status_code == 204


async def test_twilio_request_has_the_right_url_auth_and_form_fields(world: Any) -> None:
    c, h = world.client, world.headers
    with http_receiver(lambda r, i: (201, json.dumps({"sid": "SM42", "status": "queued"})
                                     .encode())) as rx:
        world.container.settings = world.container.settings.model_copy(update={
            "sms_provider": "twilio", "twilio_account_sid": "AC0123456789",
            "twilio_auth_token": "tok-secret", "twilio_from": "+15550000001",
            "twilio_api_base": rx.url})
        world.container.extras.pop("notify", None)  # rebuilt from the new settings
        async with world.container.db(write=True) as uow:
            await uow.session.execute(update(User).where(User.email == "alice@example.com")
                                      .values(phone="+491701234567"))
            await uow.commit()
        r = await c.put(f"/api/v1/orgs/{world.org1}/notification-settings",
                        json={"sms_enabled": True}, headers=h["admin_1"])
        assert r.status_code == 200 and r.json()["sms_enabled"] is True
        r = await c.put("/api/v1/me/notification-preferences", headers=h["customer_a"],
                        json={"preferences": {"confirmed": {"sms": True}}})
        assert r.status_code == 200
        ref = await _confirm(world)
        await pump(world.container)
    [got] = rx.received
    assert got.path == "/2010-04-01/Accounts/AC0123456789/Messages.json"
    expected = "Basic " + base64.b64encode(b"AC0123456789:tok-secret").decode()
    assert got.headers["authorization"] == expected
    assert got.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in parse_qs(got.body.decode()).items()}
    assert form["To"] == "+491701234567" and form["From"] == "+15550000001"
    assert ref in form["Body"] and set(form) == {"To", "From", "Body"}
    async with world.container.db(write=False) as uow:
        [sms] = (await uow.session.scalars(
            select(Delivery).where(Delivery.channel == "sms"))).all()
    assert sms.status == "sent" and sms.response == {"sid": "SM42", "status": "queued"}


def test_vapid_key_is_generated_once_and_kept(tmp_path: Any) -> None:
    from bookpulse.adapters.notify.push import load_vapid, public_key_b64

    first = load_vapid("", tmp_path)
    again = load_vapid("", tmp_path)
    assert public_key_b64(first) == public_key_b64(again)
    pem = tmp_path / "vapid_private.pem"
    assert pem.stat().st_mode & 0o777 == 0o600
    configured = load_vapid(pem.read_text(), tmp_path / "elsewhere")
    assert public_key_b64(configured) == public_key_b64(first)
    assert not (tmp_path / "elsewhere").exists()
