"""The bare floor for ``bench live``: the same traffic with no application in between.

One uvicorn worker; clients connect to ``/ws?c=NAME``; ``POST /change`` with
``{"to": [names], "key": "..."}`` sends ``{"type": "floor", "key": ...}`` to each named
connection and answers when all sends are done. No database, no auth, no hub: what is
left is HTTP in, JSON out, WebSocket frames out — the cost no live stream can avoid.

Run: ``python -m bench._live_floor PORT [WS_IMPL]``.
"""

from __future__ import annotations

import json
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

CLIENTS: dict[str, WebSocket] = {}


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


async def change(request: Request) -> JSONResponse:
    body = await request.json()
    text = json.dumps({"type": "floor", "key": body["key"]})
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
