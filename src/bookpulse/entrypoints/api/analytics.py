"""Analytics routes (organization admins): summary, time series, today's counters, the
occupancy heatmap, and exports (bookings CSV streamed with progress, report CSVs, XLSX).

Export progress: a client may pass ``progress_key`` (any token it made up) to an export and
poll ``GET /api/v1/orgs/{org_id}/exports/progress/{key}`` for ``{rows, total, done}`` while
the body streams (``X-Total-Rows`` is also sent up front). Progress is kept in the serving
process, per user, for the most recent exports.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from bookpulse.domain.errors import InvalidInput, NotFound
from bookpulse.domain.lifecycle import Status
from bookpulse.entrypoints.api.bookings import _day_bound
from bookpulse.entrypoints.api.deps import MAX_ID, ContainerDep, Id, PrincipalDep
from bookpulse.entrypoints.api.schemas import Kind
from bookpulse.services import analytics as svc

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["analytics"])

OptId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
DayParam = Annotated[str | None, Query(max_length=10)]
Key = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
XLSX_BOOKING_ROWS = 200_000
PROGRESS_KEEP = 200


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{field}' must be a date (YYYY-MM-DD).", field=field) from None


async def _filters(c: Any, principal: Any, org_id: int, day_from: str | None,
                   day_to: str | None, kind: str | None, offering_id: int | None,
                   venue_id: int | None, staff_id: int | None) -> svc.Filters:
    return await svc.make_filters(
        db=c.db, principal=principal, org_id=org_id, now=c.clock.now(),
        day_from=_day(day_from, "from"), day_to=_day(day_to, "to"), kind=kind,
        offering_id=offering_id, venue_id=venue_id, staff_id=staff_id)


#: What the file routes really send, so the OpenAPI document tells the truth (FastAPI
#: would otherwise claim application/json for every 200).
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_RESPONSE: dict[str, Any] = {
    "description": "CSV (UTF-8, comma separated, header row first), streamed.",
    "content": {"text/csv": {"schema": {"type": "string"}}}}
XLSX_RESPONSE: dict[str, Any] = {
    "description": "An Excel workbook (Office Open XML).",
    "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}


@router.get("/analytics/summary")
async def summary(org_id: Id, c: ContainerDep, principal: PrincipalDep,
                  day_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                  day_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                  kind: Kind | None = None, offering_id: OptId = None,
                  venue_id: OptId = None, staff_id: OptId = None) -> Any:
    """Every figure for a range of local days (default: the last 30): counts, rates, lead
    time, revenue by offering and kind, occupancy per shape, staff workload, holds, the
    funnel and delays. See docs/analytics.md for the definitions."""
    f = await _filters(c, principal, org_id, day_from, day_to, kind, offering_id, venue_id,
                       staff_id)
    return await svc.summary(db=c.db, filters=f)


@router.get("/analytics/timeseries")
async def timeseries(org_id: Id, c: ContainerDep, principal: PrincipalDep,
                     metric: Annotated[str, Query(max_length=32)] = "created",
                     interval: Annotated[str, Query(max_length=8)] = "day",
                     day_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                     day_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                     kind: Kind | None = None, offering_id: OptId = None,
                     venue_id: OptId = None, staff_id: OptId = None) -> Any:
    f = await _filters(c, principal, org_id, day_from, day_to, kind, offering_id, venue_id,
                       staff_id)
    return await svc.timeseries(db=c.db, filters=f, metric=metric, interval=interval)


@router.get("/analytics/today")
async def today(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    return await svc.today(db=c.db, principal=principal, org_id=org_id, now=c.clock.now())


@router.get("/analytics/heatmap")
async def heatmap(org_id: Id, c: ContainerDep, principal: PrincipalDep,
                  day_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                  day_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                  kind: Kind | None = None, offering_id: OptId = None,
                  venue_id: OptId = None) -> Any:
    f = await _filters(c, principal, org_id, day_from, day_to, kind, offering_id, venue_id,
                       None)
    return await svc.heatmap(db=c.db, filters=f)


# --- exports -----------------------------------------------------------------------------

def _progress(c: Any) -> OrderedDict[tuple[int, str], dict[str, Any]]:
    return c.extras.setdefault("export_progress", OrderedDict())  # type: ignore[no-any-return]


def _track(c: Any, user_id: int | None, key: str | None, total: int) -> dict[str, Any]:
    state = {"rows": 0, "total": total, "done": False}
    if key and user_id is not None:
        table = _progress(c)
        table[(user_id, key)] = state
        while len(table) > PROGRESS_KEEP:
            table.popitem(last=False)
    return state


@router.get("/exports/progress/{key}")
async def export_progress(org_id: Id, key: str, c: ContainerDep,
                          principal: PrincipalDep) -> Any:
    svc.check_admin(principal, org_id)
    state = _progress(c).get((principal.user_id or 0, key))
    if state is None:
        raise NotFound("No export with this progress key.")
    return {"key": key, **state}


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Spreadsheet-safe text: a leading formula character is neutralized (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def _csv_line(row: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow([_cell(v) for v in row])
    return buf.getvalue()


BOOKING_COLUMNS = ["ref", "status", "payment_status", "offering_id", "offering", "kind",
                   "shape", "start", "end", "timezone", "quantity", "price_total",
                   "currency", "customer_name", "customer_email", "customer_phone",
                   "created_at", "updated_at"]


def _booking_row(b: Any, o: Any) -> list[Any]:
    return [b.ref, str(b.status), str(b.payment_status), b.offering_id,
            o.name if o else "", str(b.kind), str(b.shape), b.start_at.isoformat(),
            b.end_at.isoformat(), o.timezone if o else "UTC", b.quantity, b.price_total,
            b.currency, b.customer_name, b.customer_email, b.customer_phone or "",
            b.created_at.isoformat(), b.updated_at.isoformat()]


def _booking_filters(status_: str | None, kind: str | None, offering_id: int | None,
                     date_from: str | None, date_to: str | None,
                     q: str | None) -> dict[str, Any]:
    statuses = [s for s in (status_ or "").split(",") if s]
    for s in statuses:
        if s not in Status.__members__.values():
            raise InvalidInput(f"Unknown status {s!r}.", field="status")
    return {"status": statuses or None, "kind": kind, "offering_id": offering_id,
            "date_from": _day_bound(date_from, "date_from", end=False),
            "date_to": _day_bound(date_to, "date_to", end=True), "q": q}


@router.get("/exports/bookings.csv", response_class=StreamingResponse,
            responses={200: CSV_RESPONSE})
async def export_bookings(
    org_id: Id, c: ContainerDep, principal: PrincipalDep,
    status_: Annotated[str | None, Query(alias="status", max_length=200,
                                          pattern=r"^[a-z_,]*$")] = None,
    kind: Kind | None = None, offering_id: OptId = None,
    date_from: Annotated[str | None, Query(max_length=40)] = None,
    date_to: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    progress_key: Key = None,
) -> StreamingResponse:
    """The organization's bookings with the booking list's filters, as CSV, streamed in
    chunks (newest start first). ``X-Total-Rows`` tells how many rows will follow."""
    filters = _booking_filters(status_, kind, offering_id, date_from, date_to, q)
    total = await svc.count_bookings(db=c.db, principal=principal, org_id=org_id, **filters)
    state = _track(c, principal.user_id, progress_key, total)

    async def body() -> AsyncIterator[str]:
        yield _csv_line(BOOKING_COLUMNS)
        async for rows, offerings in svc.iter_bookings(db=c.db, principal=principal,
                                                       org_id=org_id, **filters):
            yield "".join(_csv_line(_booking_row(b, offerings.get(b.offering_id)))
                          for b in rows)
            state["rows"] += len(rows)
        state["done"] = True

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="bookings-org{org_id}.csv"',
        "X-Total-Rows": str(total), "Cache-Control": "no-store"})


@router.get("/analytics/reports/{report}.csv", response_class=StreamingResponse,
            responses={200: CSV_RESPONSE})
async def report_csv(org_id: Id, report: str, c: ContainerDep, principal: PrincipalDep,
                     day_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                     day_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                     kind: Kind | None = None, offering_id: OptId = None,
                     venue_id: OptId = None, staff_id: OptId = None) -> StreamingResponse:
    """One report as CSV: daily, weekly, offerings, kinds, staff or funnel."""
    f = await _filters(c, principal, org_id, day_from, day_to, kind, offering_id, venue_id,
                       staff_id)
    header, rows = await svc.report_table(db=c.db, filters=f, report=report)

    async def body() -> AsyncIterator[str]:
        yield _csv_line(header)
        for i in range(0, len(rows), 500):
            yield "".join(_csv_line(r) for r in rows[i:i + 500])

    name = f"{report}-org{org_id}-{f.day_from.isoformat()}-{f.day_to.isoformat()}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/analytics/export.xlsx", response_class=StreamingResponse,
            responses={200: XLSX_RESPONSE})
async def export_xlsx(org_id: Id, c: ContainerDep, principal: PrincipalDep,
                      day_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                      day_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                      kind: Kind | None = None, offering_id: OptId = None,
                      venue_id: OptId = None, staff_id: OptId = None,
                      include_bookings: bool = False, progress_key: Key = None,
                      ) -> StreamingResponse:
    """A workbook with every report on its own sheet, and optionally the bookings whose
    start falls in the range (at most 200,000 rows). Written to a temporary file with
    openpyxl's write-only mode, then streamed and deleted."""
    from openpyxl import Workbook

    f = await _filters(c, principal, org_id, day_from, day_to, kind, offering_id, venue_id,
                       staff_id)
    wb = Workbook(write_only=True)
    for report in svc.REPORTS:
        header, rows = await svc.report_table(db=c.db, filters=f, report=report)
        ws = wb.create_sheet(report.capitalize())
        ws.append(header)
        for r in rows:
            ws.append([_cell(v) for v in r])
    if include_bookings:
        from datetime import UTC, datetime, time, timedelta

        span: dict[str, Any] = {"kind": kind, "offering_id": offering_id,
                "date_from": datetime.combine(f.day_from, time.min, tzinfo=UTC),
                "date_to": datetime.combine(f.day_to + timedelta(days=1), time.min,
                                            tzinfo=UTC)}
        total = min(XLSX_BOOKING_ROWS, await svc.count_bookings(
            db=c.db, principal=principal, org_id=org_id, **span))
        state = _track(c, principal.user_id, progress_key, total)
        ws = wb.create_sheet("Bookings")
        ws.append(BOOKING_COLUMNS)
        async for rows_, offerings in svc.iter_bookings(
                db=c.db, principal=principal, org_id=org_id, limit=XLSX_BOOKING_ROWS, **span):
            for b in rows_:
                ws.append([_cell(v) for v in _booking_row(b, offerings.get(b.offering_id))])
            state["rows"] += len(rows_)
        state["done"] = True
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    await asyncio.to_thread(wb.save, path)
    size = (await asyncio.to_thread(os.stat, path)).st_size

    async def body() -> AsyncIterator[bytes]:
        try:
            with open(path, "rb") as fh:  # noqa: ASYNC230 - local temp file, small reads
                while chunk := fh.read(256 * 1024):
                    yield chunk
        finally:
            os.unlink(path)

    name = f"analytics-org{org_id}-{f.day_from.isoformat()}-{f.day_to.isoformat()}.xlsx"
    return StreamingResponse(
        body(), media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Content-Length": str(size), "Cache-Control": "no-store"})


@router.get("/analytics/weekly-report")
async def weekly_report(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    """Last ISO week's report e-mail as admins receive it: subject, text and HTML."""
    from bookpulse.services import analytics_report

    r = await analytics_report.preview_weekly_report(db=c.db, principal=principal,
                                                     org_id=org_id, now=c.clock.now())
    return {"week_start": r.week_start.isoformat(), "subject": r.subject, "text": r.text,
            "html": r.html}
