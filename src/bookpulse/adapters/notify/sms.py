"""SMS: Twilio's Messages REST API, a generic HTTP JSON gateway, and a fake.

Twilio: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic
auth (Account SID, auth token) and form fields ``To``, ``From`` (or
``MessagingServiceSid``) and ``Body``. The base URL is configurable so tests can point it
at a local server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bookpulse.adapters.notify.base import Sent, TransientError, classify_http

#: Network failures worth retrying, by name.
TRANSIENT_HTTP = (httpx.TransportError,)


@dataclass(frozen=True, slots=True)
class SmsOut:
    to: str
    body: str
    key: str


class TwilioSms:
    def __init__(self, *, account_sid: str, auth_token: str, from_number: str = "",
                 messaging_service_sid: str = "", api_base: str = "https://api.twilio.com",
                 timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        if not account_sid or not auth_token or not (from_number or messaging_service_sid):
            raise ValueError("Twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                             "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")
        self.url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.from_number = from_number
        self.service = messaging_service_sid
        self.timeout = timeout
        self.transport = transport

    async def send(self, out: SmsOut) -> Sent:
        form = {"To": out.to, "Body": out.body[:1600]}
        if self.service:
            form["MessagingServiceSid"] = self.service
        else:
            form["From"] = self.from_number
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport,
                                         follow_redirects=False) as client:
                r = await client.post(self.url, data=form, auth=self.auth,
                                      headers={"Accept": "application/json"})
        except TRANSIENT_HTTP as exc:
            raise TransientError(f"Twilio unreachable: {exc!r}") from exc
        sent = classify_http(r.status_code, r.text, what="Twilio")
        info: dict[str, Any] = {}
        try:
            body = r.json()
            info = {k: body.get(k) for k in ("sid", "status") if isinstance(body, dict)}
        except ValueError:
            pass  # a 2xx without JSON still means Twilio accepted it
        return Sent(status_code=sent.status_code, response=info or sent.response)


class HttpSms:
    """Any gateway that takes ``POST {url}`` with JSON ``{to, from, body,
    idempotency_key}`` and an optional bearer token."""

    def __init__(self, *, url: str, token: str = "", sender: str = "", timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not url:
            raise ValueError("SMS_HTTP_URL is required for SMS_PROVIDER=http")
        self.url, self.token, self.sender = url, token, sender
        self.timeout = timeout
        self.transport = transport

    async def send(self, out: SmsOut) -> Sent:
        headers = {"Idempotency-Key": out.key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport,
                                         follow_redirects=False) as client:
                r = await client.post(self.url, headers=headers, json={
                    "to": out.to, "from": self.sender, "body": out.body,
                    "idempotency_key": out.key})
        except TRANSIENT_HTTP as exc:
            raise TransientError(f"SMS gateway unreachable: {exc!r}") from exc
        return classify_http(r.status_code, r.text, what="SMS gateway")


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[SmsOut] = []
        self.fail_next: list[Exception] = []

    async def send(self, out: SmsOut) -> Sent:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append(out)
        return Sent(status_code=201)
