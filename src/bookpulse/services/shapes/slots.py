"""Appointments and tables: a service at a start time on one resource (a therapist),
or a party at a table (or a group of up to ``MAX_COMBINED_TABLES`` combinable tables).

Taking a slot locks the candidate resource rows in id order, reads their claims that
overlap the wanted span, and claims the best free candidate (for tables: the best set
of the free tables, see ``domain.slots.best_tables``). On PostgreSQL the
``resource_claims`` exclusion constraint is a second guard against overlap.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bookpulse.domain.errors import InvalidInput, NotFound, SlotTaken
from bookpulse.domain.model import Booking, BookingRequest, Reservation
from bookpulse.domain.slots import (
    Interval,
    Schedule,
    ServiceTiming,
    TableInfo,
    best_tables,
    free_starts,
    overlaps,
    within_hours,
    working_intervals,
)


def schedule_of(resource: Any) -> Schedule:
    return Schedule.parse(weekly_hours=resource.weekly_hours, breaks=resource.breaks,
                          days_off=resource.days_off)


def timing_of(service: Any) -> ServiceTiming:
    return ServiceTiming(duration=timedelta(minutes=service.duration_minutes),
                         buffer_before=timedelta(minutes=service.buffer_before),
                         buffer_after=timedelta(minutes=service.buffer_after))


def tables_of(resources: list[Any]) -> list[Any]:
    """The active tables; an offering with any serves parties at tables only."""
    return [r for r in resources if r.active and r.kind == "table"]


def table_info(r: Any) -> TableInfo:
    return TableInfo(r.id, r.min_party, r.max_party, r.combinable)


def candidate_sets(resources: list[Any], service: Any, party: int,
                   preferred: int | None) -> list[tuple[int, ...]]:
    """Resources (not tables) that can serve this party, best first: those with the
    service's skill and room for the party. A preferred resource narrows to it."""
    sets: list[tuple[int, ...]] = [
        (r.id,) for r in resources
        if r.active and (service.skill is None or service.skill in (r.skills or []))
        and r.max_party >= party]
    if preferred is not None:
        sets = [s for s in sets if preferred in s]
    return sets


def table_starts(tables: list[Any], *, party: int, preferred: int | None, day: date,
                 tz: str, timing: ServiceTiming, busy: dict[int, list[Interval]],
                 step: timedelta, not_before: datetime) -> dict[datetime, tuple[int, ...]]:
    """Start times on local date ``day`` with the tables a booking would get then: at
    each start of any table's step grid, the best set of the tables in hours and free."""
    schedules = {t.id: schedule_of(t) for t in tables}
    hours = {i: [*working_intervals(sch, day, tz),
                 *working_intervals(sch, day - timedelta(days=1), tz)]
             for i, sch in schedules.items()}
    starts = sorted({s for sch in schedules.values() for s in free_starts(
        schedule=sch, day=day, tz=tz, timing=timing, busy=(), step=step,
        not_before=not_before)})
    out: dict[datetime, tuple[int, ...]] = {}
    for start in starts:
        end, claim = start + timing.duration, timing.claim(start)
        free = [table_info(t) for t in tables
                if any(a <= start and end <= b for a, b in hours[t.id])
                and not any(overlaps(claim, iv) for iv in busy.get(t.id, ()))]
        chosen = best_tables(free, party, preferred=preferred)
        if chosen is not None:
            out[start] = chosen
    return out


def _service_check(service: Any, offering: Any) -> None:
    if service is None or service.offering_id != offering.id or not service.active:
        raise NotFound("No such service here.", field="service_id")


async def _choose(uow: Any, resources: list[Any], service: Any, party: int,
                  preferred: int | None, tz: str, start: datetime,
                  timing: ServiceTiming) -> tuple[int, ...]:
    """Lock the candidates in id order, read their claims over the wanted span and pick
    the best free set; ``SlotTaken`` when there is none."""
    tables = tables_of(resources)
    candidates: list[TableInfo] = []
    if tables:
        candidates = [table_info(t) for t in tables
                      if (t.combinable or t.min_party <= party <= t.max_party)
                      and within_hours(schedule_of(t), tz, start, timing)]
        if best_tables(candidates, party, preferred=preferred) is None:
            candidates = []  # not even with every table free
        sets: list[tuple[int, ...]] = [(t.id,) for t in candidates]
    else:
        by_id = {r.id: r for r in resources}
        sets = [s for s in candidate_sets(resources, service, party, preferred)
                if within_hours(schedule_of(by_id[s[0]]), tz, start, timing)]
    if not sets:
        raise SlotTaken("Nobody can take this booking at that time.",
                        start=start.isoformat())
    claim_start, claim_end = timing.claim(start)
    ids = sorted({i for s in sets for i in s})
    repo = uow.shapes.slots
    await repo.lock_resources(ids)
    busy = {r for r, _, _ in await repo.claims(ids, claim_start, claim_end)}
    if tables:
        chosen = best_tables([t for t in candidates if t.id not in busy], party,
                             preferred=preferred)
    else:
        chosen = next((s for s in sets if not busy.intersection(s)), None)
    if chosen is None:
        raise SlotTaken("This time is no longer free.", start=start.isoformat())
    return chosen


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
        claim_start, claim_end = timing.claim(start)
        chosen = await _choose(uow, resources, service, party, request.resource_id,
                               offering.timezone, start, timing)
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
        """Gives back every resource of the booking (all tables of a group)."""
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
