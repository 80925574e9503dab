"""Staff pages: the day calendar per therapist / table / room / session, with links to
each booking and to the check-in scanner (``/staff/scan``, the tickets area's page)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from bookpulse.entrypoints.api.deps import Id, container
from bookpulse.entrypoints.web.guards import member
from bookpulse.entrypoints.web.render import redirect, render
from bookpulse.services import dashboard

router = APIRouter(include_in_schema=False)


@router.get("/staff", response_class=HTMLResponse)
async def staff_home(request: Request) -> Response:
    _, org_id = await member(request)
    return redirect(f"/staff/{org_id}")


@router.get("/staff/{org_id:int}", response_class=HTMLResponse)
async def calendar(request: Request, org_id: Id,
                   day: Annotated[str, Query(max_length=10)] = "") -> Response:
    principal, org_id = await member(request, org_id)
    c = container(request)
    async with c.db(write=False) as uow:
        org = await uow.catalog.org(org_id)
    tz = org.timezone if org else "UTC"
    today = c.clock.now().astimezone(ZoneInfo(tz)).date()
    try:
        chosen = date.fromisoformat(day) if day else today
    except ValueError:
        chosen = today
    org, lanes, offerings = await dashboard.day_calendar(db=c.db, principal=principal,
                                                         org_id=org_id, day=chosen)
    head = await dashboard.head_event_id(db=c.db)
    return await render(request, "pages/staff/calendar.html", org=org, org_id=org_id,
                        lanes=lanes, offerings=offerings, day=chosen, today=today,
                        prev_day=chosen - timedelta(days=1), next_day=chosen + timedelta(days=1),
                        last_event_id=head, is_admin=principal.is_admin_of(org_id))
