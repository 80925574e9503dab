"""Who may open which page. Pages raise domain errors; the HTML error branch turns
``Unauthenticated`` into a redirect to the sign-in page and the rest into a readable
error page (see ``web/errors.py``)."""

from __future__ import annotations

from fastapi import Request

from bookpulse.domain.errors import Forbidden, Unauthenticated
from bookpulse.domain.lifecycle import Role
from bookpulse.domain.model import Principal
from bookpulse.entrypoints.api.deps import resolve_principal


async def maybe_user(request: Request) -> Principal | None:
    found = await resolve_principal(request)
    return found[0] if found else None


async def signed_in(request: Request) -> Principal:
    principal = await maybe_user(request)
    if principal is None:
        raise Unauthenticated("Please sign in to see this page.")
    return principal


async def customer(request: Request) -> Principal:
    """Customer pages: any signed-in person, for their own bookings."""
    return await signed_in(request)


def orgs_with(principal: Principal, *roles: Role) -> list[int]:
    return sorted(o for o, r in principal.memberships.items() if r in roles)


async def member(request: Request, org_id: int | None = None) -> tuple[Principal, int]:
    """Staff pages: staff or admin of the organization (the first one by default)."""
    principal = await signed_in(request)
    orgs = orgs_with(principal, Role.STAFF, Role.ADMIN)
    if not orgs:
        raise Forbidden("This page is for an organization's staff and admins.")
    if org_id is None:
        return principal, orgs[0]
    if org_id not in orgs:
        raise Forbidden("You are not a member of this organization.")
    return principal, org_id


async def admin(request: Request, org_id: int | None = None) -> tuple[Principal, int]:
    """Management pages: admins of the organization only."""
    principal = await signed_in(request)
    orgs = orgs_with(principal, Role.ADMIN)
    if not orgs:
        raise Forbidden("This page is for an organization's admins.")
    if org_id is None:
        return principal, orgs[0]
    if org_id not in orgs:
        raise Forbidden("You are not an admin of this organization.")
    return principal, org_id
