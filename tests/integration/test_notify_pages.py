"""The demo mail sink and its page, the bell fragment and the notification centre; the
generic HTTP SMS adapter; outbound URL checks."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from bookpulse.adapters.notify.base import PermanentError, TransientError
from bookpulse.adapters.notify.netguard import UnsafeTarget, check_url_syntax
from bookpulse.adapters.notify.runtime import pump
from bookpulse.adapters.notify.sms import HttpSms, SmsOut
from bookpulse.config import Settings
from bookpulse.entrypoints.mailsink import start_mail_sink


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"smtp_port": free_port(), "demo_mode": True})


async def test_demo_mail_page_lists_caught_mail_and_shows_one(world: Any) -> None:
    sink = start_mail_sink(world.container.settings)
    try:
        r = await world.book("customer_a")
        ref = r.json()["ref"]
        await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "confirm"}, headers=world.headers["admin_1"])
        await pump(world.container)
    finally:
        sink.stop()
    assert len(sink.messages) == 1
    files = list((world.container.settings.var_dir / "mail").glob("*.eml"))
    assert len(files) == 1
    page = await world.client.get("/demo/mail")  # anyone, in demo mode
    assert page.status_code == 200 and "Confirmed: Night Concert" in page.text
    one = await world.client.get(f"/demo/mail/{files[0].stem}")
    assert one.status_code == 200 and ref in one.text and "booking.ics" in one.text
    assert 'sandbox=""' in one.text  # the mail's HTML cannot run scripts here
    assert (await world.client.get("/demo/mail/../../etc")).status_code == 404
    assert (await world.client.get("/demo/mail/123")).status_code == 404
    world.container.settings = world.container.settings.model_copy(
        update={"demo_mode": False})
    assert (await world.client.get("/demo/mail")).status_code == 404


async def test_bell_fragment_and_notification_centre(world: Any) -> None:
    r = await world.book("customer_a")
    ref = r.json()["ref"]
    await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                            json={"action": "reject", "reason": "Full"},
                            headers=world.headers["admin_1"])
    from tests.integration.notify_support import install_fakes

    install_fakes(world.container)
    await pump(world.container)
    anon = await world.client.get("/fragments/bell")
    assert anon.status_code == 200 and 'data-unread="0"' in anon.text
    alice = world.headers["customer_a"]  # pages accept the bearer token too
    bell = await world.client.get("/fragments/bell", headers=alice)
    assert 'data-unread="1"' in bell.text and "1 unread" in bell.text
    page = await world.client.get("/notifications", headers=alice)
    assert page.status_code == 200 and "Not accepted: Night Concert" in page.text


async def test_generic_http_sms_adapter_posts_json_and_classifies_answers() -> None:
    seen: list[httpx.Request] = []
    answers = iter([201, 503, 400])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers), json={"ok": True})

    sms = HttpSms(url="https://sms.example.com/send", token="t0k", sender="Bookpulse",
                  transport=httpx.MockTransport(handler))
    out = SmsOut(to="+4912345", body="Hello", key="evt:1:sms:2")
    assert (await sms.send(out)).status_code == 201
    with pytest.raises(TransientError):
        await sms.send(out)
    with pytest.raises(PermanentError):
        await sms.send(out)
    first = seen[0]
    assert first.headers["authorization"] == "Bearer t0k"
    assert first.headers["idempotency-key"] == "evt:1:sms:2"
    assert json.loads(first.content) == {"to": "+4912345", "from": "Bookpulse",
                                         "body": "Hello", "idempotency_key": "evt:1:sms:2"}


def test_outbound_url_checks() -> None:
    assert check_url_syntax(" https://hooks.example.com/x ", allow_private=False) == \
        "https://hooks.example.com/x"
    for bad in ("http://127.0.0.1/", "http://10.1.2.3/", "http://[::1]/", "http://localhost/",
                "http://169.254.169.254/latest", "gopher://x.example.com/", "https:///nohost",
                "http://0.0.0.0/", "http://[::1", "http://x.example.com:99999/",
                "https://a b.example.com/"):
        with pytest.raises(UnsafeTarget):
            check_url_syntax(bad, allow_private=False)
    with pytest.raises(UnsafeTarget):
        check_url_syntax("http://push.example.com/", allow_private=False, require_https=True)
    assert check_url_syntax("http://127.0.0.1:9/", allow_private=True)
