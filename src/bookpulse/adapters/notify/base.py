"""What every channel shares: the outcome of one send, and the errors that say whether
to try again.

A channel's ``send`` returns ``Sent`` or raises one of these. Retrying is decided by the
error's class, never by parsing messages: ``TransientError`` (provider down, timeout,
429, 5xx, SMTP 4xx) is retried with backoff; ``PermanentError`` (4xx, refused recipient)
is not; ``GoneError`` means the recipient no longer exists (an expired push subscription).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Sent:
    status_code: int | None = None
    response: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None,
                 response: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.response = response or {}


class TransientError(DeliveryError):
    """Worth trying again later."""


class PermanentError(DeliveryError):
    """Trying again would fail the same way."""


class GoneError(PermanentError):
    """The recipient is gone for good (HTTP 404/410 from a push service)."""


def classify_http(status: int, body: str, *, what: str) -> Sent:
    """Map an HTTP answer to ``Sent`` or the right error: 2xx sent; 408, 425, 429 and
    5xx transient; any other 4xx (and 3xx: we do not follow redirects) permanent."""
    snippet = body[:500]
    if 200 <= status < 300:
        return Sent(status_code=status, response={"body": snippet})
    message = f"{what} answered HTTP {status}: {snippet[:200]}"
    if status in (408, 425, 429) or status >= 500:
        raise TransientError(message, status_code=status, response={"body": snippet})
    raise PermanentError(message, status_code=status, response={"body": snippet})
