"""Installable app: the web manifest, the service worker (served from the root so its
scope is the whole site) and the offline page it falls back to."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bookpulse import __version__
from bookpulse.entrypoints.web import STATIC_DIR
from bookpulse.entrypoints.web.render import render

router = APIRouter(include_in_schema=False)

MANIFEST = {
    "name": "Bookpulse", "short_name": "Bookpulse",
    "description": "Book anything and follow every status change live.",
    "start_url": "/bookings", "scope": "/", "display": "standalone",
    "background_color": "#f6f6fa", "theme_color": "#3b2fc9",
    "icons": [
        {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {"src": "/static/icons/icon-maskable-512.png", "sizes": "512x512",
         "type": "image/png", "purpose": "maskable"},
        {"src": "/static/icons/icon.svg", "sizes": "any", "type": "image/svg+xml"},
    ],
}

#: Cached at install: what the offline page needs. Pages themselves are never served
#: from cache (they carry live, personal data); only the offline page stands in.
SHELL = ["/offline", "/static/css/app.css?v=" + __version__, "/static/icons/icon.svg",
         "/static/vendor/htmx-2.0.11.min.js", "/static/js/app.js?v=" + __version__]

SW_TEMPLATE = """/* Bookpulse service worker {version}: offline page for navigations, cached shell
   assets; API calls and pages always go to the network. */
{push_import}
const CACHE = "bookpulse-shell-{version}";
const SHELL = {shell};
self.addEventListener("install", (event) => {{
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
}});
self.addEventListener("activate", (event) => {{
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((k) => k.startsWith("bookpulse-shell-") && k !== CACHE).map((k) => caches.delete(k))
  )).then(() => self.clients.claim()));
}});
self.addEventListener("fetch", (event) => {{
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (req.mode === "navigate") {{
    event.respondWith(fetch(req).catch(() => caches.match("/offline")));
    return;
  }}
  if (url.pathname.startsWith("/static/")) {{
    event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
  }}
}});
"""


@router.get("/manifest.webmanifest")
async def manifest() -> Response:
    return JSONResponse(MANIFEST, media_type="application/manifest+json")


def service_worker_source() -> str:
    push = STATIC_DIR / "sw-push.js"
    return SW_TEMPLATE.format(
        version=__version__, shell=json.dumps(SHELL),
        push_import="importScripts('/static/sw-push.js');" if push.is_file() else "")


@router.get("/sw.js")
async def service_worker() -> Response:
    return Response(service_worker_source(), media_type="application/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@router.get("/offline", response_class=HTMLResponse)
async def offline(request: Request) -> Response:
    request.state.auth = "anonymous"  # the cached copy must not carry anyone's name
    return await render(request, "pages/offline.html")
