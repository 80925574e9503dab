"""Check-in routes: scan or type a ticket, sync an offline scanner's queue, and the door's
list and counter."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from bookpulse.domain.model import Principal
from bookpulse.entrypoints.api import views
from bookpulse.entrypoints.api.deps import MAX_ID, ContainerDep, Id, PrincipalDep
from bookpulse.entrypoints.api.tickets import ticket_crypto
from bookpulse.services import checkin as svc

router = APIRouter(prefix="/api/v1", tags=["check-in"])

Text80 = Annotated[str | None, Field(default=None, max_length=80)]
Text120 = Annotated[str | None, Field(default=None, max_length=120)]


class CheckinIn(BaseModel):
    """A scanned ``token``, or a typed booking ``reference`` (optionally one
    ``position``, 0-based; without it everyone of the booking not yet in)."""

    token: str | None = Field(default=None, max_length=400)
    reference: str | None = Field(default=None, max_length=40)
    position: int | None = Field(default=None, ge=0, le=10000)
    gate: Text80 = None
    device_id: Text120 = None

    @model_validator(mode="after")
    def _one_of(self) -> CheckinIn:
        if bool(self.token) == bool(self.reference):
            raise ValueError("give either token or reference")
        return self


class CheckinOut(BaseModel):
    result: str = Field(description="ok | already_checked_in | invalid | not_valid_now | "
                                    "cancelled")
    reason: str
    booking: dict[str, Any] | None = None
    position: int | None = None
    admitted: int = 0
    checked_in_at: datetime | None = None
    checked_in_by: str | None = None


class QueuedScanIn(BaseModel):
    token: str | None = Field(default=None, max_length=400)
    reference: str | None = Field(default=None, max_length=40)
    scanned_at: datetime
    device_id: Text120 = None
    gate: Text80 = None


class SyncIn(BaseModel):
    scans: list[QueuedScanIn] = Field(max_length=500)


class SyncResultOut(CheckinOut):
    index: int
    conflict: bool = False
    duplicate: bool = False
    first_device_id: str | None = None


class SyncOut(BaseModel):
    results: list[SyncResultOut]
    conflicts: list[SyncResultOut]


async def _out(c: ContainerDep, o: svc.Outcome, principal: Principal) -> dict[str, Any]:
    booking = None
    if o.booking is not None:
        offering = o.offering
        if offering is None:
            async with c.db(write=False) as uow:
                offering = await uow.catalog.offering(o.booking.offering_id)
        booking = views.booking_out(o.booking, offering, principal)
    return {"result": o.result, "reason": o.reason, "booking": booking,
            "position": o.position, "admitted": o.admitted,
            "checked_in_at": o.checked_in_at, "checked_in_by": o.checked_in_by}


@router.post("/checkin", response_model=CheckinOut)
async def check_in(body: CheckinIn, c: ContainerDep, principal: PrincipalDep) -> Any:
    """Staff and admins of the ticket's organization. Always 200 with a ``result`` for
    a ticket that cannot be admitted (a ticket of another organization is ``invalid``)."""
    now = c.clock.now()
    if body.token:
        outcome = await svc.check_in_ticket(db=c.db, crypto=ticket_crypto(c),
                                            principal=principal, token=body.token, now=now,
                                            gate=body.gate, device_id=body.device_id)
    else:
        outcome = await svc.check_in_reference(db=c.db, principal=principal,
                                               ref=body.reference or "", now=now,
                                               position=body.position, gate=body.gate,
                                               device_id=body.device_id)
    return await _out(c, outcome, principal)


@router.post("/checkin/sync", response_model=SyncOut)
async def sync(body: SyncIn, c: ContainerDep, principal: PrincipalDep) -> Any:
    """Apply an offline scanner's queued scans (oldest first). A ticket another device
    admitted first comes back in ``conflicts``; re-sending a synced scan is harmless."""
    scans = [svc.QueuedScan(token=s.token, reference=s.reference, scanned_at=s.scanned_at,
                            device_id=s.device_id, gate=s.gate) for s in body.scans]
    outcomes = await svc.sync_scans(db=c.db, crypto=ticket_crypto(c), principal=principal,
                                    scans=scans, now=c.clock.now())
    results = []
    for i, o in enumerate(outcomes):
        results.append({**await _out(c, o, principal), "index": i, "conflict": o.conflict,
                        "duplicate": o.duplicate, "first_device_id": o.first_device_id})
    return {"results": results, "conflicts": [r for r in results if r["conflict"]]}


Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD, org time zone")]
SessionId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


async def _scope(c: ContainerDep, principal: Principal, org_id: int, day: str | None,
                 session_id: int | None) -> svc.DoorScope:
    return await svc.door_scope(db=c.db, principal=principal, org_id=org_id,
                                day=svc.parse_day(day), session_id=session_id,
                                now=c.clock.now())


@router.get("/orgs/{org_id}/checkin/list")
async def door_list(org_id: Id, c: ContainerDep, principal: PrincipalDep, day: Day = None,
                    session_id: SessionId = None) -> Any:
    """For offline scanning of a day (or one session): the verifying public keys and
    every ticket with its state: ``valid``, ``checked_in`` or ``cancelled``."""
    scope = await _scope(c, principal, org_id, day, session_id)
    return await svc.door_list(db=c.db, principal=principal, scope=scope)


@router.get("/orgs/{org_id}/checkin/stats")
async def door_stats(org_id: Id, c: ContainerDep, principal: PrincipalDep, day: Day = None,
                     session_id: SessionId = None) -> dict[str, int]:
    """``{checked_in, expected}`` people for the day or session."""
    scope = await _scope(c, principal, org_id, day, session_id)
    return await svc.door_stats(db=c.db, principal=principal, scope=scope)

