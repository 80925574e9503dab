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

    access_token_minutes: int = 15
    refresh_token_days: int = 30
    session_days: int = 14
    login_attempts_per_minute: int = 10

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    mail_from: str = "Bookpulse <bookings@bookpulse.localhost>"

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
