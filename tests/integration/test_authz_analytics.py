"""Authorization matrix for the analytics routes: organization admins only (staff 403,
other organizations and customers 403, anonymous 401), see tests/integration/authz.py."""

from __future__ import annotations

import pytest

from tests.integration.authz import ADMIN_1, CALLERS, Case, run_case

_BASE = "/api/v1/orgs/{org_id}"

CASES = [
    Case("GET", f"{_BASE}/analytics/summary", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/analytics/summary"),
    Case("GET", f"{_BASE}/analytics/timeseries", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/analytics/timeseries?metric=net&interval=week"),
    Case("GET", f"{_BASE}/analytics/today", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/analytics/today"),
    Case("GET", f"{_BASE}/analytics/heatmap", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/analytics/heatmap"),
    Case("GET", f"{_BASE}/analytics/weekly-report", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/analytics/weekly-report"),
    Case("GET", f"{_BASE}/analytics/reports/{{report}}.csv", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/analytics/reports/staff.csv"),
    Case("GET", f"{_BASE}/analytics/export.xlsx", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/analytics/export.xlsx"),
    Case("GET", f"{_BASE}/exports/bookings.csv", ADMIN_1,
         lambda w, x: f"/api/v1/orgs/{w.org1}/exports/bookings.csv?progress_key=k1"),
    Case("GET", f"{_BASE}/exports/progress/{{key}}",
         {**ADMIN_1, "admin_1": 404},  # allowed, but this caller started no such export
         lambda w, x: f"/api/v1/orgs/{w.org1}/exports/progress/none"),
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.route}")
async def test_analytics_matrix(case: Case, caller: str, container, client) -> None:
    await run_case(case, caller, container, client)
