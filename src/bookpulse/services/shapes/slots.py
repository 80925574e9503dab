"""Appointments and tables: a service at a start time on one resource (a therapist),
or a party at a table (or two combinable tables).

Taking a slot locks the candidate resource rows in id order, reads their claims that
overlap the wanted span, and claims the first free candidate. On PostgreSQL the
``resource_claims`` exclusion constraint is a second guard against overlap.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bookpulse.domain.errors import InvalidInput, NotFound, SlotTaken
from bookpulse.domain.model import Booking, BookingRequest, Reservation
from bookpulse.domain.slots import Schedule, ServiceTiming, TableInfo, table_choices, within_hours


def schedule_of(resource: Any) -> Schedule:
    return Schedule.parse(weekly_hours=resource.weekly_hours, breaks=resource.breaks,
                          days_off=resource.days_off)


def timing_of(service: Any) -> ServiceTiming:
    return ServiceTiming(duration=timedelta(minutes=service.duration_minutes),
                         buffer_before=timedelta(minutes=service.buffer_before),
                         buffer_after=timedelta(minutes=service.buffer_after))


def candidate_sets(resources: list[Any], service: Any, party: int,
                   preferred: int | None) -> list[tuple[int, ...]]:
    """Resource sets that can serve this party, best first. Tables: the smallest table
    that fits, then combinable pairs. Others (therapists): those with the service's
    skill and room for the party. A preferred resource narrows the choice to it."""
    active = [r for r in resources if r.active]
    if any(r.kind == "table" for r in active):
        tables = [TableInfo(r.id, r.min_party, r.max_party, r.combinable)
                  for r in active if r.kind == "table"]
        sets = table_choices(tables, party)
    else:
        sets = [(r.id,) for r in active
                if (service.skill is None or service.skill in (r.skills or []))
                and r.max_party >= party]
    if preferred is not None:
        sets = [s for s in sets if preferred in s]
    return sets


def _service_check(service: Any, offering: Any) -> None:
    if service is None or service.offering_id != offering.id or not service.active:
        raise NotFound("No such service here.", field="service_id")


class SlotInventory:
    async def reserve(self, uow: Any, *, offering: Any, request: BookingRequest,
                      now: datetime) -> Reservation:
        if request.service_id is None:
            raise InvalidInput("Choose a service (service_id).", field="service_id")
        if request.start is None:
            raise InvalidInput("Choose a start time (start).", field="start")
        if request.start.tzinfo is None:
            raise InvalidInput("The start needs a UTC offset.", field="start")
        if request.start <= now:
            raise InvalidInput("This time has passed.", field="start")
        repo = uow.shapes.slots
        service = await repo.service(request.service_id)
        _service_check(service, offering)
        party = request.party_size or request.quantity or 1
        if not 1 <= party <= 100:
            raise InvalidInput("Party size must be 1 to 100.", field="party_size")
        resources = await repo.resources(offering.id)
        by_id = {r.id: r for r in resources}
        if request.resource_id is not None and request.resource_id not in by_id:
            raise NotFound("No such table or therapist here.", field="resource_id")
        timing = timing_of(service)
        start = request.start.astimezone(UTC)
        sets = [s for s in candidate_sets(resources, service, party, request.resource_id)
                if all(within_hours(schedule_of(by_id[i]), offering.timezone, start, timing)
                       for i in s)]
        if not sets:
            raise SlotTaken("Nobody can take this booking at that time.",
                            start=start.isoformat())
        claim_start, claim_end = timing.claim(start)
        ids = sorted({i for s in sets for i in s})
        await repo.lock_resources(ids)
        busy = {r for r, _, _ in await repo.claims(ids, claim_start, claim_end)}
        chosen = next((s for s in sets if not busy.intersection(s)), None)
        if chosen is None:
            raise SlotTaken("This time is no longer free.", start=start.isoformat())
        await repo.add_claims(list(chosen), claim_start, claim_end)
        names = [by_id[i].name for i in chosen]
        is_table = by_id[chosen[0]].kind == "table"
        return Reservation(
            start_at=start, end_at=start + timing.duration, quantity=party,
            price_total=service.price * (party if is_table else 1),
            details={"service_id": service.id, "service": service.name,
                     "resource_id": chosen[0], "resource": " + ".join(names),
                     "resource_ids": list(chosen), "party_size": party,
                     "claim_start": claim_start.isoformat(),
                     "claim_end": claim_end.isoformat(),
                     "buffer_before": service.buffer_before,
                     "buffer_after": service.buffer_after})

    async def release(self, uow: Any, *, booking: Booking) -> None:
        d = booking.details
        if not d.get("resource_ids") or not d.get("claim_start"):
            return
        await uow.shapes.slots.remove_claims(
            [int(i) for i in d["resource_ids"]], datetime.fromisoformat(d["claim_start"]),
            datetime.fromisoformat(d["claim_end"]))

    async def change(self, uow: Any, *, offering: Any, booking: Booking,
                     request: BookingRequest, now: datetime) -> Reservation:
        """New time, service, party or resource in one transaction. The booking's
        resource is tried first; if it is busy any qualifying one is taken."""
        d = booking.details
        request = replace(request, start=request.start or booking.start_at,
                          service_id=request.service_id or d.get("service_id"),
                          party_size=request.party_size or d.get("party_size"))
        await self.release(uow, booking=booking)
        if request.resource_id is not None and request.resource_id == d.get("resource_id"):
            try:
                async with uow.shapes.savepoint():
                    return await self.reserve(uow, offering=offering, request=request,
                                              now=now)
            except SlotTaken:
                request = replace(request, resource_id=None)
        return await self.reserve(uow, offering=offering, request=request, now=now)

    async def reschedule(self, uow: Any, *, booking: Booking, start_at: datetime,
                         end_at: datetime) -> None:
        """A provider-side delay keeps the same resources at the new time (working
        hours are the provider's call); ``SlotTaken`` if they are busy then."""
        d = booking.details
        ids = [int(i) for i in d.get("resource_ids") or ()]
        if not ids:
            return
        await self.release(uow, booking=booking)
        new_start = start_at - timedelta(minutes=int(d.get("buffer_before", 0)))
        new_end = end_at + timedelta(minutes=int(d.get("buffer_after", 0)))
        repo = uow.shapes.slots
        await repo.lock_resources(ids)
        if await repo.claims(ids, new_start, new_end):
            raise SlotTaken("The resource is busy at the new time.",
                            start=start_at.isoformat())
        await repo.add_claims(ids, new_start, new_end)
        d["claim_start"], d["claim_end"] = new_start.isoformat(), new_end.isoformat()
