"""Organization routes: the caller's organizations, venues and members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from bookpulse.domain.errors import NotFound
from bookpulse.domain.lifecycle import Role
from bookpulse.entrypoints.api import views
from bookpulse.entrypoints.api.deps import ContainerDep, Id, PrincipalDep, require_member
from bookpulse.entrypoints.api.schemas import (
    MemberIn,
    MemberOut,
    OfferingOut,
    OrgOut,
    VenueIn,
    VenueOut,
)
from bookpulse.services import accounts, catalog

router = APIRouter(prefix="/api/v1", tags=["organizations"])


@router.get("/orgs", response_model=list[OrgOut])
async def my_orgs(c: ContainerDep, principal: PrincipalDep) -> Any:
    async with c.db(write=False) as uow:
        orgs = await uow.catalog.orgs(list(principal.memberships))
    return [{"id": o.id, "name": o.name, "slug": o.slug, "timezone": o.timezone,
             "role": str(principal.memberships[o.id])} for o in orgs]


@router.get("/orgs/{org_id}", response_model=OrgOut)
async def get_org(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    require_member(principal, org_id)
    async with c.db(write=False) as uow:
        o = await uow.catalog.org(org_id)
    if o is None:
        raise NotFound("No such organization.")
    return {"id": o.id, "name": o.name, "slug": o.slug, "timezone": o.timezone,
            "role": str(principal.memberships[o.id])}


@router.get("/orgs/{org_id}/venues", response_model=list[VenueOut])
async def list_venues(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    require_member(principal, org_id)
    async with c.db(write=False) as uow:
        venues = await uow.catalog.venues(org_id)
    return [{"id": v.id, "org_id": v.org_id, "name": v.name, "address": v.address,
             "city": v.city, "timezone": v.timezone} for v in venues]


@router.post("/orgs/{org_id}/venues", status_code=status.HTTP_201_CREATED,
             response_model=VenueOut)
async def create_venue(org_id: Id, body: VenueIn, c: ContainerDep,
                       principal: PrincipalDep) -> Any:
    v = await catalog.create_venue(db=c.db, principal=principal, org_id=org_id,
                                   name=body.name, timezone=body.timezone,
                                   address=body.address, city=body.city, now=c.clock.now())
    return {"id": v.id, "org_id": v.org_id, "name": v.name, "address": v.address,
            "city": v.city, "timezone": v.timezone}


@router.get("/orgs/{org_id}/offerings", response_model=list[OfferingOut])
async def org_offerings(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    """All the organization's offerings, unpublished ones included (members only)."""
    require_member(principal, org_id)
    async with c.db(write=False) as uow:
        rows = await uow.catalog.offerings(org_id=org_id, published_only=False, limit=1000)
    return [views.offering_out(o) for o in rows]


@router.get("/orgs/{org_id}/members", response_model=list[MemberOut])
async def list_members(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    require_member(principal, org_id)
    async with c.db(write=False) as uow:
        rows = await uow.users.members(org_id)
    return [{"user_id": u.id, "email": u.email, "name": u.name, "role": m.role}
            for m, u in rows]


@router.put("/orgs/{org_id}/members", response_model=MemberOut)
async def set_member(org_id: Id, body: MemberIn, c: ContainerDep,
                     principal: PrincipalDep) -> Any:
    user = await accounts.set_member(db=c.db, principal=principal, org_id=org_id,
                                     email=str(body.email), role=Role(body.role),
                                     now=c.clock.now())
    return {"user_id": user.id, "email": user.email, "name": user.name, "role": body.role}


@router.delete("/orgs/{org_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(org_id: Id, user_id: Id, c: ContainerDep,
                        principal: PrincipalDep) -> Response:
    await accounts.remove_member(db=c.db, principal=principal, org_id=org_id, user_id=user_id)
    return Response(status_code=204)
