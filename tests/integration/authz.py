"""The authorization matrix machinery: callers, expectation sets, and the runner.

Every API route x every kind of caller has an expected allow or deny. Callers: anonymous,
customer A (owns the booking), customer B, staff of org 1, admin of org 1, admin of org 2.
Each (route, caller) runs against a fresh world so one caller's allowed change does not
decide the next caller's outcome. Areas keep their cases in
``tests/integration/test_authz_<area>.py`` as a ``CASES`` list; the coverage test checks
that every API route has an expectation somewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.conftest import World, build_world

CALLERS = ["anonymous", "customer_a", "customer_b", "staff_1", "admin_1", "admin_2"]
OK = "ok"  # any 2xx


@dataclass
class Case:
    method: str
    route: str
    expect: dict[str, int | str]
    path: Callable[[World, dict[str, Any]], str]
    body: Callable[[World, dict[str, Any]], Any] | None = None


def _all(value: int | str) -> dict[str, int | str]:
    return {c: value for c in CALLERS}


Expectation = dict[str, int | str]

PUBLIC: Expectation = _all(OK)
SIGNED_IN: Expectation = {**_all(OK), "anonymous": 401}
MEMBERS: Expectation = {"anonymous": 401, "customer_a": 403, "customer_b": 403, "staff_1": OK,
           "admin_1": OK, "admin_2": 403}
ADMIN_1: Expectation = {**MEMBERS, "staff_1": 403}
OWNER_OR_ORG: Expectation = {"anonymous": 401, "customer_a": OK, "customer_b": 404, "staff_1": OK,
                "admin_1": OK, "admin_2": 404}
ORG_STAFF_ACTION: Expectation = {**OWNER_OR_ORG, "customer_a": 403}
OWNER_OR_ADMIN: Expectation = {**OWNER_OR_ORG, "staff_1": 403}


def _check(expected: int | str, status: int) -> bool:
    return 200 <= status < 300 if expected == OK else status == expected


async def run_case(case: Case, caller: str, container: Any, client: Any,
                   setup: Callable[[World], Any] | None = None) -> None:
    """Build a world, book once as customer A, then call the route as ``caller``.
    ``setup`` may add area-specific things to the extras dict (ids of layouts, tickets...)."""
    world = await build_world(container, client)
    booking = await world.book("customer_a")
    assert booking.status_code == 201
    members = await client.get(f"/api/v1/orgs/{world.org1}/members",
                               headers=world.headers["admin_1"])
    staff_id = next(m["user_id"] for m in members.json() if m["role"] == "staff")
    extra: dict[str, Any] = {"ref": booking.json()["ref"], "staff_id": staff_id}
    if setup is not None:
        extra.update(await setup(world))
    r = await client.request(case.method, case.path(world, extra),
                             json=case.body(world, extra) if case.body else None,
                             headers=world.headers[caller])
    expected = case.expect[caller]
    assert _check(expected, r.status_code), f"expected {expected}, got {r.status_code}: {r.text}"
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
