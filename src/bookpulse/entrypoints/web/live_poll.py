"""A polling fallback for live pages: the events after an id the viewer may see, read
from the log. Pages use the live stream (``/api/v1/live`` via ``static/js/live.js``) when
the app serves it, and this when it does not (or the stream cannot connect)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from bookpulse.entrypoints.api.deps import container, whole_number
from bookpulse.entrypoints.web.guards import maybe_user
from bookpulse.services import dashboard

router = APIRouter(include_in_schema=False)


@router.get("/live/poll")
async def poll(request: Request,
               after: Annotated[int, Query(ge=0, le=2**62)] = 0,
               watch: Annotated[str, Query(max_length=200, pattern=r"^[0-9,]*$")] = "") -> Response:
    principal = await maybe_user(request)
    ids = [i for x in watch.split(",")
           if (i := whole_number(x)) is not None][: dashboard.MAX_WATCH]
    body = await dashboard.feed(db=container(request).db, principal=principal,
                                after_id=after, watch=ids)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
