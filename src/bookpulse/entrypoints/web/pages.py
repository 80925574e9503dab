"""Public pages: the home page with the catalogue, and the problem-type reference."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bookpulse.domain import errors as e
from bookpulse.entrypoints.api.deps import container
from bookpulse.entrypoints.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    c = container(request)
    async with c.db(write=False) as uow:
        offerings = await uow.catalog.offerings(limit=60)
    return await render(request, "pages/home.html", offerings=offerings)


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
