"""The admin analytics page: figures, charts (Chart.js, vendored) with table toggles, the
occupancy heatmap, exports, and today's counters kept live from the event stream."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from bookpulse.domain.errors import InvalidInput
from bookpulse.entrypoints.api.analytics import _day
from bookpulse.entrypoints.api.deps import MAX_ID, container
from bookpulse.entrypoints.web import guards
from bookpulse.entrypoints.web.render import render, templates
from bookpulse.services import analytics as svc

router = APIRouter(include_in_schema=False)

# The admin navigation lists area pages from this global ("{org}" is replaced).
_links: list[tuple[str, str]] = templates.env.globals.setdefault(  # type: ignore[assignment]
    "admin_links", [])
if ("/admin/orgs/{org}/analytics", "Analytics") not in _links:
    _links.append(("/admin/orgs/{org}/analytics", "Analytics"))

TREND_METRICS = ("created", "confirmed", "cancelled", "no_show", "expired")
OptId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get("/admin/orgs/{org_id}/analytics", response_class=HTMLResponse)
async def analytics_page(
    request: Request, org_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    day_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    day_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    offering_id: OptId = None, venue_id: OptId = None, staff_id: OptId = None,
    interval: Annotated[str, Query(pattern="^(day|week)$")] = "day",
) -> Response:
    principal, org_id = await guards.admin(request, org_id)
    c = container(request)
    now = c.clock.now()
    try:
        f = await svc.make_filters(db=c.db, principal=principal, org_id=org_id, now=now,
                                   day_from=_day(day_from, "from"), day_to=_day(day_to, "to"),
                                   kind=kind or None, offering_id=offering_id,
                                   venue_id=venue_id, staff_id=staff_id)
        error = None
    except InvalidInput as exc:
        f = await svc.make_filters(db=c.db, principal=principal, org_id=org_id, now=now)
        error = exc.detail
    summary = await svc.summary(db=c.db, filters=f)
    trends = {m: (await svc.timeseries(db=c.db, filters=f, metric=m, interval=interval))
              ["points"] for m in TREND_METRICS}
    revenue = (await svc.timeseries(db=c.db, filters=f, metric="net",
                                    interval=interval))["points"]
    heat = await svc.heatmap(db=c.db, filters=f) if f.days <= 366 else None
    today = await svc.today(db=c.db, principal=principal, org_id=org_id, now=now)
    async with c.db(write=False) as uow:
        org = await uow.catalog.org(org_id)
        venues = await uow.catalog.venues(org_id)
        members = await uow.users.members(org_id)
        offerings = await uow.analytics.offerings(org_id)
    query = {k: v for k, v in {"from": f.day_from.isoformat(), "to": f.day_to.isoformat(),
                               "kind": f.kind, "offering_id": f.offering_id,
                               "venue_id": f.venue_id, "staff_id": f.staff_id}.items()
             if v is not None}
    return await render(
        request, "pages/admin/analytics.html", org=org, org_id=org_id, is_admin=True,
        f=f, s=summary, trends=trends, revenue_points=revenue, heat=heat, today=today,
        venues=venues, staff=[(u.id, u.name) for _m, u in members], offerings=offerings,
        kinds=svc.KINDS, interval=interval, error=error, query=query,
        reports=svc.REPORTS,
        chart_data={"trends": trends, "revenue": revenue,
                    "status": summary["counts"],
                    "offerings": [{"name": o["name"], "gross": o["gross"],
                                   "refunds": o["refunds"], "net": o["net"]}
                                  for o in summary["revenue"]["by_offering"]]})
