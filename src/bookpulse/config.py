"""One typed Settings object, read from the environment once at start-up."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev"}


class Settings(BaseSettings):
    """Every setting has a default that runs the demo on one laptop."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    var_dir: Path = Field(default=Path("var"), alias="BOOKPULSE_VAR_DIR")
    database_url: str = ""
    broker_url: str = "memory://"
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    timezone: str = "UTC"
    demo_mode: bool = Field(default=False, alias="BOOKPULSE_DEMO")

    #: FastAPI's own OpenTelemetry traces, metrics and logs, sent to the providers that
    #: ``opentelemetry-instrument`` or the host's set-up configure. Off by default:
    #: switched on, FastAPI asks the global providers on every request whether any is
    #: configured (2-3 % of a status change's CPU in a py-spy profile, with none set).
    opentelemetry: bool = Field(default=False, alias="BOOKPULSE_OPENTELEMETRY")

    #: One log line per HTTP request from ``bookpulse serve`` (uvicorn's access log).
    #: Off by default, as in gunicorn and granian: the reverse proxy in front usually
    #: keeps that log, and writing it costs about 5 % of the server's CPU per booking
    #: in a rush (py-spy, ``bench rush``).
    access_log: bool = False

    access_token_minutes: int = 15
    #: How long a signed-in user's roles are reused between requests in one process
    #: (0: read them on every request). Role changes made through this process apply at
    #: once; made through another instance, within this many seconds.
    principal_cache_seconds: float = 5.0
    #: PostgreSQL connections per process for writers, and as many again for reads
    #: (their own pool, so they never queue behind writers waiting on a row lock). Few on
    #: purpose: a request waiting for a connection costs nothing, while many open
    #: transactions hold row locks across event-loop turns and make hot rows (a
    #: session's places, the log head) wait longer.
    db_pool_size: int = 8
    #: PostgreSQL: how many bookings each process keeps, as it last read or saved them,
    #: so that a status change starts from one without reading it (0: none). A kept
    #: copy that another instance has made out of date costs the change at most one
    #: statement more, never a wrong write (adapters/db/recent.py). About 1 KiB each.
    booking_cache_size: int = Field(default=10_000, ge=0)
    refresh_token_days: int = 30
    session_days: int = 14
    login_attempts_per_minute: int = 10

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    mail_from: str = "Bookpulse <bookings@bookpulse.localhost>"
    smtp_timeout: float = 10.0

    # notifications (see adapters/notify/; README "Notifications")
    sms_provider: Literal["none", "twilio", "http"] = "none"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    sms_http_url: str = ""
    sms_http_token: str = ""
    sms_from: str = "Bookpulse"
    vapid_private_key: str = ""  # PEM or base64url raw key; generated under var/ if empty
    vapid_subject: str = "mailto:admin@bookpulse.localhost"
    webhook_timeout: float = 10.0
    #: Allow webhook/push targets on loopback and private networks (tests, demo, LAN).
    notify_allow_private_targets: bool = False
    notify_max_attempts: int = 10
    notify_retry_base_seconds: float = 30.0
    notify_retry_max_seconds: float = 3600.0
    #: Events older than this when first read are not notified (a fresh install on an old log).
    notify_max_event_age_hours: float = 24.0
    #: Sent/skipped deliveries, their attempt logs and read in-app notifications older
    #: than this are deleted (dead letters stay until retried or resolved).
    notify_retention_days: int = 90

    # live stream (adapters/realtime/hub.py)
    #: Re-read the event log this often even without a broker wake-up (seconds).
    live_poll_seconds: float = 2.0
    #: Messages queued per connection before a slow client is disconnected.
    live_queue_size: int = 512
    #: Resuming further back than this many events gets a ``reset`` (0: no limit).
    live_max_replay: int = 0

    run_workers: bool = Field(default=True, alias="BOOKPULSE_RUN_WORKERS")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(value)
        return value

    def resolved(self) -> Settings:
        """Fill derived defaults: the SQLite file and a persisted secret under var/."""
        data = self.model_dump(by_alias=False)
        if not self.database_url:
            data["database_url"] = f"sqlite:///{(self.var_dir / 'bookpulse.db').resolve()}"
        if not self.secret_key:
            data["secret_key"] = _persisted_secret(self.var_dir)
        elif self.secret_key.lower() in PLACEHOLDER_SECRETS and not self.demo_mode:
            raise ValueError("SECRET_KEY is a placeholder; set a long random value.")
        return Settings.model_construct(**data)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def _persisted_secret(var_dir: Path) -> str:
    """Generated once and kept in var/secret_key (mode 0600) so restarts keep sessions."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def load_settings() -> Settings:
    return Settings().resolved()
