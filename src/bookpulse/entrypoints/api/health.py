"""Health: is the database answering, is the broker answering."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bookpulse import __version__
from bookpulse.entrypoints.api.deps import ContainerDep
from bookpulse.entrypoints.api.schemas import HealthOut

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get("/health", response_model=HealthOut,
            responses={503: {"model": HealthOut, "description": "A dependency is down"}})
async def health(c: ContainerDep) -> Any:
    database = "ok" if await c.db.ping() else "down"
    try:
        broker = "ok" if await c.broker.ping() else "down"
    except (OSError, ConnectionError):
        broker = "down"
    body = {"status": "ok" if database == broker == "ok" else "degraded",
            "database": database, "broker": broker, "version": __version__}
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)
