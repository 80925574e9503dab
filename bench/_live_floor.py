"""The bare floor for ``bench live``: the same traffic with no application in between.

One uvicorn worker; clients connect to ``/ws?c=NAME``; ``POST /change`` with
``{"to": [names], "key": "...", "n": N}`` sends ``{"type": "floor", "key": ..., ...}`` to
each named connection and answers when all sends are done. No database, no auth, no hub:
what is left is HTTP in, JSON out, WebSocket frames out — the cost no live stream can
avoid. The message has the fields and size of a live status-change event (``message``):
until session 16 it was 31 bytes against the live stream's 427, so the clients' own
parsing was counted as the stream's cost.

Run: ``python -m bench._live_floor PORT [WS_IMPL]``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

CLIENTS: dict[str, WebSocket] = {}
START, LENGTH = timedelta(days=30), timedelta(hours=3)


async def ws_endpoint(ws: WebSocket) -> None:
    name = ws.query_params.get("c", "")
    await ws.accept()
    CLIENTS[name] = ws
    try:
        while True:
            if (await ws.receive())["type"] == "websocket.disconnect":
                return
    except WebSocketDisconnect:
        return
    finally:
        CLIENTS.pop(name, None)


def message(key: str, n: int) -> str:
    """A message shaped and sized as a live status-change event (about 430 bytes): the
    clients parse the same amount of JSON in both phases."""
    now = datetime.now(UTC)
    return json.dumps({
        "type": "floor", "key": key, "id": n,
        "event": {"id": n, "type": "confirmed", "from_status": "pending",
                  "to_status": "confirmed",
                  "actor": {"id": 1, "name": "bench-admin", "role": "admin"},
                  "reason": None, "data": {}, "version": 2, "created_at": now.isoformat()},
        "booking": {"ref": "BP-FLOOR0", "status": "confirmed", "version": 2,
                    "start": (now + START).isoformat(),
                    "end": (now + START + LENGTH).isoformat(), "offering_id": 1,
                    "session_id": 1}}, separators=(",", ":"))


async def change(request: Request) -> JSONResponse:
    body = await request.json()
    text = message(body["key"], body.get("n", 0))
    sent = 0
    for name in body["to"]:
        ws = CLIENTS.get(name)
        if ws is not None:
            try:
                await ws.send_text(text)
                sent += 1
            except (WebSocketDisconnect, OSError, RuntimeError):
                pass
    return JSONResponse({"sent": sent})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "connections": len(CLIENTS)})


app = Starlette(routes=[WebSocketRoute("/ws", ws_endpoint), Route("/change", change,
                                                                    methods=["POST"]),
                        Route("/health", health)])


def main(argv: list[str]) -> int:
    import uvicorn

    from bookpulse.entrypoints.ws_protocol import LEAN, ws_protocol

    port = int(argv[0])
    ws = ws_protocol(argv[1] if len(argv) > 1 else LEAN)
    uvicorn.run(app, host="127.0.0.1", port=port, ws=ws, log_level="warning",
                ws_ping_interval=None, ws_per_message_deflate=False,
                backlog=8192, timeout_keep_alive=60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
