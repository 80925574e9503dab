"""Accounts: register, sign in, browser sessions, API refresh tokens, memberships.

Secrets are random tokens; only their SHA-256 is stored, so a database leak does not
leak a usable session. Passwords go through the ``PasswordHasher`` port (argon2id).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any, Protocol

from bookpulse.domain.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from bookpulse.domain.lifecycle import Role
from bookpulse.domain.model import Principal
from bookpulse.services.ports import UnitOfWorkFactory

MIN_PASSWORD = 8


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, stored: str, password: str) -> bool: ...

    def needs_rehash(self, stored: str) -> bool: ...


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:70] or "org"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Use at least {MIN_PASSWORD} characters for the password.",
                           field="password")
    if len(password) > 1024:
        raise InvalidInput("That password is too long.", field="password")


async def register_user(*, db: UnitOfWorkFactory, hasher: PasswordHasher, email: str,
                        password: str, name: str, now: datetime,
                        phone: str | None = None) -> Any:
    _check_password(password)
    if not name.strip():
        raise InvalidInput("Please give your name.", field="name")
    async with db(write=True) as uow:
        if await uow.users.by_email(email):
            raise AlreadyExists("An account with this e-mail already exists.", field="email")
        user = await uow.users.add(email=email.strip().lower(), name=name.strip(),
                                   phone=(phone or None), password_hash=hasher.hash(password),
                                   is_active=True, created_at=now)
        await uow.commit()
        return user


async def authenticate(*, db: UnitOfWorkFactory, hasher: PasswordHasher, email: str,
                       password: str) -> Any:
    """The user for these credentials, or ``Unauthenticated`` (one message for a wrong
    e-mail and a wrong password, so the form does not reveal who has an account)."""
    async with db(write=False) as uow:
        user = await uow.users.by_email(email)
    if user is None or not user.is_active:
        hasher.hash(password)  # same work either way: no timing oracle for e-mails
        raise Unauthenticated("Wrong e-mail or password.")
    if not hasher.verify(user.password_hash, password):
        raise Unauthenticated("Wrong e-mail or password.")
    if hasher.needs_rehash(user.password_hash):
        async with db(write=True) as uow:
            row = await uow.users.get(user.id)
            row.password_hash = hasher.hash(password)
            await uow.commit()
    return user


async def load_principal(*, db: UnitOfWorkFactory, user_id: int,
                         cache: PrincipalCache | None = None) -> Principal:
    if cache is not None:
        found = cache.get(user_id)
        if found is not None:
            return found
        generation = cache.generation
    async with db(write=False) as uow:
        user, memberships = await uow.users.with_memberships(user_id)
    principal = principal_of(user, memberships)
    if cache is not None:
        cache.put(principal, generation=generation)
    return principal


def principal_of(user: Any, memberships: list[tuple[int, str]]) -> Principal:
    """The principal of an account as read (id, name, email, phone, is_active) with its
    (org id, role) pairs; ``Unauthenticated`` if it is gone or inactive."""
    if user is None or not user.is_active:
        raise Unauthenticated("This account no longer exists.")
    return Principal(user_id=user.id, name=user.name, email=user.email, phone=user.phone,
                     memberships={org_id: Role(role) for org_id, role in memberships})


class PrincipalCache:
    """Signed-in users with their roles, reused for a few seconds: every API request
    needs them, and they change rarely. Any change to accounts or memberships made in
    this process empties it (``forget_principals``); other instances see it within the
    time to live."""

    generation = 0  # bumped by forget_principals(); shared by every cache in the process

    def __init__(self, ttl_seconds: float, *, max_entries: int = 50_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[int, tuple[Principal, float, int]] = {}

    def get(self, user_id: int) -> Principal | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        principal, expires, generation = entry
        if generation != PrincipalCache.generation or time.monotonic() >= expires:
            self._entries.pop(user_id, None)
            return None
        return principal

    def put(self, principal: Principal, *, generation: int) -> None:
        if self.ttl <= 0 or principal.user_id is None:
            return
        if generation != PrincipalCache.generation:
            return  # something changed while it was read: do not keep a stale copy
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[principal.user_id] = (principal, time.monotonic() + self.ttl,
                                            generation)


def forget_principals() -> None:
    """Accounts or memberships changed: read them again on the next request."""
    PrincipalCache.generation += 1


# Browser sessions -------------------------------------------------------------------

async def open_web_session(*, db: UnitOfWorkFactory, user_id: int, now: datetime,
                           ttl: timedelta) -> tuple[str, str]:
    """A new browser session: returns (cookie token, CSRF token)."""
    raw = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    async with db(write=True) as uow:
        await uow.users.add_web_session(token_hash=token_hash(raw), user_id=user_id,
                                        csrf_token=csrf, created_at=now,
                                        expires_at=now + ttl)
        await uow.commit()
    return raw, csrf


async def web_session(*, db: UnitOfWorkFactory, raw: str,
                      now: datetime) -> tuple[int, str, datetime] | None:
    """(user_id, csrf token, expiry) of a live browser session, or None."""
    async with db(write=False) as uow:
        ws = await uow.users.web_session(token_hash(raw))
    if ws is None or ws.expires_at <= now:
        return None
    return ws.user_id, ws.csrf_token, ws.expires_at


async def close_web_session(*, db: UnitOfWorkFactory, raw: str) -> None:
    async with db(write=True) as uow:
        await uow.users.delete_web_session(token_hash(raw))
        await uow.commit()


# API refresh tokens ------------------------------------------------------------------

async def issue_refresh_token(*, db: UnitOfWorkFactory, user_id: int, now: datetime,
                              ttl: timedelta, family: str | None = None) -> str:
    raw = secrets.token_urlsafe(32)
    async with db(write=True) as uow:
        await uow.users.add_refresh(user_id=user_id, token_hash=token_hash(raw),
                                    family=family or secrets.token_hex(8), created_at=now,
                                    expires_at=now + ttl, revoked_at=None)
        await uow.commit()
    return raw


async def rotate_refresh_token(*, db: UnitOfWorkFactory, raw: str, now: datetime,
                               ttl: timedelta) -> tuple[int, str]:
    """Spend a refresh token for a new one of the same family. A token used twice means
    it leaked: the whole family is revoked and the caller must sign in again."""
    async with db(write=True) as uow:
        rt = await uow.users.refresh_by_hash(token_hash(raw))
        if rt is None or rt.expires_at <= now:
            raise Unauthenticated("The refresh token is invalid or expired.")
        if rt.revoked_at is not None:
            await uow.users.revoke_family(rt.family, now=now)
            await uow.commit()
            raise Unauthenticated("The refresh token was already used; sign in again.")
        rt.revoked_at = now
        new_raw = secrets.token_urlsafe(32)
        await uow.users.add_refresh(user_id=rt.user_id, token_hash=token_hash(new_raw),
                                    family=rt.family, created_at=now, expires_at=now + ttl,
                                    revoked_at=None)
        user_id = rt.user_id
        await uow.commit()
    return user_id, new_raw


async def revoke_refresh_token(*, db: UnitOfWorkFactory, raw: str, now: datetime) -> None:
    async with db(write=True) as uow:
        rt = await uow.users.refresh_by_hash(token_hash(raw))
        if rt is not None:
            await uow.users.revoke_family(rt.family, now=now)
        await uow.commit()


# Organizations and members -----------------------------------------------------------

async def create_org_admin(*, db: UnitOfWorkFactory, hasher: PasswordHasher, email: str,
                           password: str, org_name: str, now: datetime,
                           name: str | None = None, timezone: str = "UTC") -> tuple[int, int]:
    """Create the organization if new and make the user (created if new) its admin.
    Returns (org_id, user_id)."""
    _check_password(password)
    async with db(write=True) as uow:
        org = await uow.catalog.org_by_slug(_slug(org_name))
        if org is None:
            org = await uow.catalog.add_org(name=org_name.strip(), slug=_slug(org_name),
                                            timezone=timezone, settings={}, created_at=now)
        user = await uow.users.by_email(email)
        if user is None:
            user = await uow.users.add(email=email.strip().lower(),
                                       name=(name or email.split("@")[0]).strip(),
                                       phone=None, password_hash=hasher.hash(password),
                                       is_active=True, created_at=now)
        membership = await uow.users.membership(user.id, org.id)
        if membership is None:
            await uow.users.add_membership(user_id=user.id, org_id=org.id, role="admin",
                                           created_at=now)
        else:
            membership.role = "admin"
        org_id, user_id = org.id, user.id
        await uow.commit()
    forget_principals()
    return org_id, user_id


async def set_member(*, db: UnitOfWorkFactory, principal: Principal, org_id: int, email: str,
                     role: Role, now: datetime) -> Any:
    """Admins make an existing account staff or admin of their organization."""
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins manage its members.")
    if role not in (Role.STAFF, Role.ADMIN):
        raise InvalidInput("Role must be staff or admin.", field="role")
    async with db(write=True) as uow:
        user = await uow.users.by_email(email)
        if user is None:
            raise NotFound("No account with this e-mail; ask them to register first.",
                           field="email")
        m = await uow.users.membership(user.id, org_id)
        if m is None:
            m = await uow.users.add_membership(user_id=user.id, org_id=org_id,
                                               role=str(role), created_at=now)
        else:
            m.role = str(role)
        await uow.commit()
    forget_principals()
    return user


async def remove_member(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                        user_id: int) -> None:
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins manage its members.")
    if principal.user_id == user_id:
        raise InvalidInput("You cannot remove yourself; ask another admin.")
    async with db(write=True) as uow:
        m = await uow.users.membership(user_id, org_id)
        if m is None:
            raise NotFound("No such member.")
        await uow.users.remove_membership(m)
        await uow.commit()
    forget_principals()
