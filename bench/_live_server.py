"""The Bookpulse app for ``bench live``: one uvicorn worker with a large accept backlog
(thousands of clients connect at once). Configuration comes from the environment, as
for ``bookpulse serve``.

Run: ``python -m bench._live_server PORT [WS_IMPL]``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import uvicorn

    from bookpulse import bootstrap
    from bookpulse.config import load_settings
    from bookpulse.entrypoints.app import create_app
    from bookpulse.entrypoints.ws_protocol import LEAN, ws_protocol

    port = int(argv[0])
    ws = ws_protocol(argv[1] if len(argv) > 1 else LEAN)
    app = create_app(bootstrap.build(load_settings()))
    uvicorn.run(app, host="127.0.0.1", port=port, ws=ws, log_level="warning",
                ws_ping_interval=None, ws_per_message_deflate=False,
                backlog=8192, timeout_keep_alive=60, lifespan="on", proxy_headers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
