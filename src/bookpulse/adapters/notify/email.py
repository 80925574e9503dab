"""E-mail over SMTP (aiosmtplib): HTML and plain text, attachments (.ics, tickets).

The Message-ID is derived from the delivery's idempotency key, so a message retried
after a lost answer carries the same id and mail systems that de-duplicate can.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr

import aiosmtplib

from bookpulse.adapters.notify.base import PermanentError, Sent, TransientError

#: Errors worth retrying, by name: the server is unreachable, hung up or was slow.
#: (Connection refused and DNS failures arrive as plain OSError.)
TRANSIENT_SMTP = (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected,
                  aiosmtplib.SMTPTimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class EmailOut:
    to: str
    subject: str
    text: str
    html: str | None
    key: str
    sender_name: str = ""
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)


def build_message(out: EmailOut, *, mail_from: str) -> EmailMessage:
    name, address = parseaddr(mail_from)
    msg = EmailMessage()
    msg["From"] = formataddr((out.sender_name or name, address))
    msg["To"] = out.to
    msg["Subject"] = out.subject
    msg["Date"] = formatdate(localtime=False)
    domain = address.rpartition("@")[2] or "bookpulse.localhost"
    msg["Message-ID"] = f"<{hashlib.sha256(out.key.encode()).hexdigest()[:32]}@{domain}>"
    msg["X-Bookpulse-Delivery"] = out.key
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(out.text)
    if out.html:
        msg.add_alternative(out.html, subtype="html")
    for filename, mime, data in out.attachments:
        maintype, _, subtype = mime.partition("/")
        params = {"method": "PUBLISH"} if mime == "text/calendar" else {}
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=filename, params=params)
    return msg


class SmtpEmail:
    def __init__(self, *, host: str, port: int, username: str = "", password: str = "",
                 tls: str = "none", mail_from: str, timeout: float = 10.0) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.tls = tls
        self.mail_from = mail_from
        self.timeout = timeout

    async def send(self, out: EmailOut) -> Sent:
        msg = build_message(out, mail_from=self.mail_from)
        try:
            _refused, reply = await aiosmtplib.send(
                msg, hostname=self.host, port=self.port,
                username=self.username or None, password=self.password or None,
                use_tls=self.tls == "tls", start_tls=True if self.tls == "starttls" else False,
                timeout=self.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx is the server saying "later"; 5xx is final.
            cls = TransientError if 400 <= exc.code < 500 else PermanentError
            raise cls(f"SMTP {exc.code}: {exc.message}", status_code=exc.code) from exc
        except TRANSIENT_SMTP as exc:
            raise TransientError(f"SMTP unavailable: {exc!r}") from exc
        return Sent(status_code=250, response={"reply": str(reply)[:300],
                                               "message_id": msg["Message-ID"]})


class FakeEmail:
    """Records messages; ``fail_next`` makes the next sends raise that error."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next: list[Exception] = []

    async def send(self, out: EmailOut) -> Sent:
        if self.fail_next:
            raise self.fail_next.pop(0)
        msg = build_message(out, mail_from="Bookpulse <bookings@bookpulse.localhost>")
        self.sent.append(msg)
        return Sent(status_code=250, response={"message_id": msg["Message-ID"]})
