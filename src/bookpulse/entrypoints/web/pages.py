"""Public pages: browse and search the catalogue, and the problem-type reference."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from bookpulse.domain import errors as e
from bookpulse.domain.model import Kind
from bookpulse.entrypoints.api.deps import container
from bookpulse.entrypoints.web.render import render

router = APIRouter(include_in_schema=False)

KINDS = [(str(k), label) for k, label in (
    (Kind.EVENT, "Events"), (Kind.TOUR, "Tours"), (Kind.HOTEL, "Hotels"),
    (Kind.RESTAURANT, "Restaurants"), (Kind.SPA, "Spa & wellness"))]
PAGE_SIZE = 24
Text = Annotated[str, Query(max_length=200)]


def _date(value: str, *, end: bool) -> datetime | None:
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(d + timedelta(days=1) if end else d, time.min, tzinfo=UTC)


def _cents(value: str) -> int | None:
    try:
        amount = float(value.replace(",", "."))
    except ValueError:
        return None
    return round(amount * 100) if 0 <= amount < 10_000_000 else None


def search_filters(kind: str, q: str, location: str, category: str, date_from: str,
                   date_to: str, price_min: str, price_max: str
                   ) -> tuple[dict[str, Any], list[str]]:
    """Catalogue filters from the search form; unreadable values are dropped with a note
    instead of failing the page."""
    notes: list[str] = []
    f: dict[str, Any] = {}
    if kind in {k for k, _ in KINDS}:
        f["kind"] = kind
    for key, value in (("q", q), ("location", location), ("category", category)):
        if value.strip():
            f[key] = value.strip()
    for key, value, end in (("date_from", date_from, False), ("date_to", date_to, True)):
        if value:
            parsed = _date(value, end=end)
            if parsed is None:
                notes.append(f"Ignored the date {value!r}: use the date picker.")
            else:
                f[key] = parsed
    for key, value in (("price_min", price_min), ("price_max", price_max)):
        if value.strip():
            cents = _cents(value)
            if cents is None:
                notes.append(f"Ignored the price {value!r}: enter an amount like 25 or 19.50.")
            else:
                f[key] = cents
    return f, notes


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, kind: Text = "", q: Text = "", location: Text = "",
               category: Text = "", date_from: Text = "", date_to: Text = "",
               price_min: Text = "", price_max: Text = "",
               page: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    c = container(request)
    filters, notes = search_filters(kind, q, location, category, date_from, date_to,
                                    price_min, price_max)
    async with c.db(write=False) as uow:
        rows = await uow.catalog.offerings(**filters, limit=PAGE_SIZE * page + 1)
        total = await uow.web.count_offerings(**filters)
        without_kind = {k: v for k, v in filters.items() if k != "kind"}
        kind_counts = {k: await uow.web.count_offerings(**without_kind, kind=k)
                       for k, _ in KINDS}
        categories = await uow.catalog.categories()
    more = len(rows) > PAGE_SIZE * page
    offerings = rows[:PAGE_SIZE * page]
    form = {"kind": filters.get("kind", ""), "q": q, "location": location,
            "category": category, "date_from": date_from, "date_to": date_to,
            "price_min": price_min, "price_max": price_max}
    template = ("fragments/results.html" if request.headers.get("hx-request")
                and request.headers.get("hx-target") == "results" else "pages/home.html")
    return await render(request, template, offerings=offerings, total=total, notes=notes,
                        kinds=KINDS, kind_counts=kind_counts, categories=categories,
                        form=form, more=more, page=page,
                        searching=bool(filters))


def _problem_types() -> dict[str, type[e.BookingError]]:
    seen: dict[str, type[e.BookingError]] = {}
    stack: list[type[e.BookingError]] = [e.BookingError]
    while stack:
        cls = stack.pop()
        seen[cls.code] = cls
        stack.extend(cls.__subclasses__())
    return seen


@router.get("/problems/{code}", response_class=HTMLResponse)
async def problem_type(request: Request, code: str) -> Response:
    types = _problem_types()
    cls = types.get(code)
    return await render(request, "pages/problem.html", status_code=200 if cls else 404,
                        code=code, cls=cls)
