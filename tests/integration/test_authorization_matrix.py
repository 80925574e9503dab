"""Every core API route x every kind of caller: the expected allow or deny, asserted.
(The machinery and the expectation sets are in ``authz.py``.)"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

from bookpulse.entrypoints.app import create_app
from tests.conftest import World
from tests.integration.authz import (
    ADMIN_1,
    CALLERS,
    MEMBERS,
    OK,
    ORG_STAFF_ACTION,
    OWNER_OR_ADMIN,
    OWNER_OR_ORG,
    PUBLIC,
    SIGNED_IN,
    Case,
    _all,
    run_case,
)

__all__ = ["OK"]


def _later(w: World, x: dict[str, Any]) -> str:
    return (w.container.clock.now() + timedelta(days=20)).isoformat()


CASES = [
    Case("GET", "/api/v1/health", PUBLIC, lambda w, x: "/api/v1/health"),
    Case("POST", "/api/v1/auth/register", PUBLIC, lambda w, x: "/api/v1/auth/register",
         lambda w, x: {"email": "new-person@example.com", "password": "password123",
                       "name": "New Person"}),
    Case("POST", "/api/v1/auth/token", PUBLIC, lambda w, x: "/api/v1/auth/token",
         lambda w, x: {"email": "alice@example.com", "password": "password123"}),
    Case("POST", "/api/v1/auth/refresh", _all(401), lambda w, x: "/api/v1/auth/refresh",
         lambda w, x: {"refresh_token": "not-a-token"}),
    Case("POST", "/api/v1/auth/logout", PUBLIC, lambda w, x: "/api/v1/auth/logout",
         lambda w, x: {"refresh_token": "not-a-token"}),
    Case("GET", "/api/v1/me", SIGNED_IN, lambda w, x: "/api/v1/me"),
    Case("GET", "/api/v1/orgs", SIGNED_IN, lambda w, x: "/api/v1/orgs"),
    Case("GET", "/api/v1/orgs/{org_id}", MEMBERS, lambda w, x: f"/api/v1/orgs/{w.org1}"),
    Case("GET", "/api/v1/orgs/{org_id}/venues", MEMBERS,
         lambda w, x: f"/api/v1/orgs/{w.org1}/venues"),
    Case("POST", "/api/v1/orgs/{org_id}/venues", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/venues",
         lambda w, x: {"name": "Hall", "timezone": "Europe/Berlin"}),
    Case("GET", "/api/v1/orgs/{org_id}/offerings", MEMBERS,
         lambda w, x: f"/api/v1/orgs/{w.org1}/offerings"),
    Case("GET", "/api/v1/orgs/{org_id}/members", MEMBERS,
         lambda w, x: f"/api/v1/orgs/{w.org1}/members"),
    Case("PUT", "/api/v1/orgs/{org_id}/members", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/members",
         lambda w, x: {"email": "bob@example.com", "role": "staff"}),
    Case("DELETE", "/api/v1/orgs/{org_id}/members/{user_id}", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/members/{x['staff_id']}"),
    Case("GET", "/api/v1/offerings", PUBLIC, lambda w, x: "/api/v1/offerings"),
    Case("GET", "/api/v1/offerings/{offering_id}", PUBLIC,
         lambda w, x: f"/api/v1/offerings/{w.offering}"),
    Case("GET", "/api/v1/offerings/{offering_id}/sessions", PUBLIC,
         lambda w, x: f"/api/v1/offerings/{w.offering}/sessions"),
    Case("GET", "/api/v1/offerings/{offering_id}/availability", PUBLIC,
         lambda w, x: f"/api/v1/offerings/{w.offering}/availability"),
    Case("POST", "/api/v1/orgs/{org_id}/offerings", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/offerings",
         lambda w, x: {"kind": "tour", "shape": "capacity", "name": "Boat", "price": 100}),
    Case("PATCH", "/api/v1/offerings/{offering_id}", {**ADMIN_1},
         lambda w, x: f"/api/v1/offerings/{w.offering}", lambda w, x: {"price": 3000}),
    Case("DELETE", "/api/v1/offerings/{offering_id}", {**ADMIN_1},
         lambda w, x: f"/api/v1/offerings/{w.offering}"),
    Case("POST", "/api/v1/offerings/{offering_id}/sessions", {**ADMIN_1},
         lambda w, x: f"/api/v1/offerings/{w.offering}/sessions",
         lambda w, x: {"start": _later(w, x),
                       "end": (w.container.clock.now() + timedelta(days=20, hours=2)).isoformat(),
                       "capacity": 10}),
    Case("PATCH", "/api/v1/sessions/{session_id}", {**ADMIN_1},
         lambda w, x: f"/api/v1/sessions/{w.session}", lambda w, x: {"capacity": 60}),
    Case("POST", "/api/v1/bookings", SIGNED_IN, lambda w, x: "/api/v1/bookings",
         lambda w, x: {"offering_id": w.offering, "session_id": w.session, "quantity": 1}),
    Case("GET", "/api/v1/bookings", SIGNED_IN, lambda w, x: "/api/v1/bookings"),
    Case("GET", "/api/v1/bookings/{ref}", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/bookings/{x['ref']}"),
    Case("GET", "/api/v1/bookings/{ref}/events", OWNER_OR_ORG,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/events"),
    Case("POST", "/api/v1/bookings/{ref}/transitions", ORG_STAFF_ACTION,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/transitions",
         lambda w, x: {"action": "confirm"}),
    Case("POST", "/api/v1/bookings/{ref}/transitions#cancel", OWNER_OR_ADMIN,
         lambda w, x: f"/api/v1/bookings/{x['ref']}/transitions",
         lambda w, x: {"action": "cancel", "reason": "test"}),
    Case("PATCH", "/api/v1/bookings/{ref}", OWNER_OR_ADMIN,
         lambda w, x: f"/api/v1/bookings/{x['ref']}", lambda w, x: {"quantity": 2}),
]

MATRIX = [(case, caller) for case in CASES for caller in CALLERS]


@pytest.mark.parametrize(("case", "caller"), MATRIX,
                         ids=[f"{c.method} {c.route} as {who}" for c, who in MATRIX])
async def test_matrix(case: Case, caller: str, container, client) -> None:
    await run_case(case, caller, container, client)


def test_every_api_route_is_in_the_matrix(container) -> None:
    app = create_app(container, manage_lifecycle=False)
    routes = {(method.upper(), path) for path, item in app.openapi()["paths"].items()
              for method in item if path.startswith("/api/")}
    routes -= {("GET", "/api/v1/openapi.json")}
    covered: set[tuple[str, str]] = set()
    for path in [*sorted(Path(__file__).parent.glob("test_authz*.py")), Path(__file__)]:
        module = import_module(f"tests.integration.{path.stem}")
        covered |= {(c.method, c.route.split("#")[0]) for c in module.CASES}
        covered |= set(getattr(module, "COVERED_ELSEWHERE", ()))
    missing = sorted(routes - covered)
    assert not missing, f"routes without an authorization expectation: {missing}"
