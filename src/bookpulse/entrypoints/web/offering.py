"""Offering pages: one per shape, with live availability, and the availability snapshot
their JavaScript reloads when the live stream says something changed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from bookpulse.domain.analytics import local_day
from bookpulse.domain.errors import NotFound
from bookpulse.domain.policy import CancellationPolicy
from bookpulse.entrypoints.api.deps import Id, container
from bookpulse.entrypoints.web.guards import maybe_user
from bookpulse.entrypoints.web.render import render
from bookpulse.services import analytics, dashboard

router = APIRouter(include_in_schema=False)


async def visible_offering(request: Request, offering_id: int) -> Any:
    """The offering if it is published (or the viewer is a member of its organization)."""
    principal = await maybe_user(request)
    async with container(request).db(write=False) as uow:
        o = await uow.catalog.offering(offering_id)
    if o is None or o.archived_at is not None or (
            not o.is_published and not (principal and principal.is_member_of(o.org_id))):
        raise NotFound("This offering does not exist or is no longer on sale.")
    return o


#: Shape -> async (request, offering) -> template context;
#: every shape's picker registers from ``web/pickers.py``.
PICKERS: dict[str, Any] = {}
#: Shape -> async (request, offering, query) -> availability snapshot (JSON-able).
SNAPSHOTS: dict[str, Any] = {}


@router.get("/offerings/{offering_id:int}", response_class=HTMLResponse)
async def offering_page(request: Request, offering_id: Id) -> Response:
    offering = await visible_offering(request, offering_id)
    picker = PICKERS.get(offering.shape)
    context = await picker(request, offering) if picker else {}
    c = container(request)
    head = await dashboard.head_event_id(db=c.db)
    response = await render(
        request, f"pages/offering_{offering.shape}.html" if picker else "pages/offering_soon.html",
        offering=offering, policy=CancellationPolicy(offering.cancel_free_hours),
        last_event_id=head, **context)
    principal = await maybe_user(request)  # cached on the request by visible_offering
    if response.status_code == 200 and not (principal and principal.is_member_of(
            offering.org_id)):
        # The analytics funnel counts visitors, like GET /api/v1/offerings/{id}; the
        # counter is written after the page is sent so it never slows the page down.
        response.background = BackgroundTask(
            analytics.record_view, db=c.db, org_id=offering.org_id, offering_id=offering.id,
            day=local_day(c.clock.now(), offering.timezone))
    return response


@router.get("/offerings/{offering_id:int}/availability.json")
async def availability_snapshot(request: Request, offering_id: Id) -> Response:
    offering = await visible_offering(request, offering_id)
    snapshot = SNAPSHOTS.get(offering.shape)
    body = await snapshot(request, offering) if snapshot else {"shape": offering.shape}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
