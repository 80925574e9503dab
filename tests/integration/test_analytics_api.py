"""Analytics over HTTP: access rules, bad input, live 'today' counters, page views and the
funnel, exports (CSV streamed with progress, report CSVs, XLSX), and the booking search
the analytics migration indexes — on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from bookpulse.services import analytics
from tests.conftest import token_headers


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


def _summary_url(world, **params) -> str:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/orgs/{world.org1}/analytics/summary?{q}"


async def _confirm(world, ref: str) -> None:
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "confirm"}, headers=world.headers["staff_1"])
    assert r.status_code == 200, r.text


async def test_only_the_organizations_admins_see_analytics(world):
    url = _summary_url(world)
    assert (await world.client.get(url, headers=world.headers["admin_1"])).status_code == 200
    for who, code in (("staff_1", 403), ("admin_2", 403), ("customer_a", 403),
                      ("anonymous", 401)):
        r = await world.client.get(url, headers=world.headers[who])
        assert r.status_code == code, (who, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await world.client.get(f"/api/v1/orgs/{world.org1}/exports/bookings.csv",
                               headers=world.headers["staff_1"])
    assert r.status_code == 403


@pytest.mark.parametrize("params", [
    {"from": "2026-06-10", "to": "2026-06-01"}, {"from": "not-a-day"},
    {"from": "2020-01-01", "to": "2026-01-01"}, {"kind": "spaceship"},
    {"offering_id": "0"}, {"staff_id": "99999999999"},
])
async def test_bad_filters_are_problems_not_errors(world, params):
    r = await world.client.get(_summary_url(world, **params), headers=world.headers["admin_1"])
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_unknown_metric_and_interval_are_refused(world):
    base = f"/api/v1/orgs/{world.org1}/analytics/timeseries"
    for q in ("metric=bogus", "interval=month", "metric=" + "x" * 40):
        r = await world.client.get(f"{base}?{q}", headers=world.headers["admin_1"])
        assert r.status_code == 422, r.text


async def test_today_counts_a_confirmation_before_the_rollup_job_runs(world):
    today_url = f"/api/v1/orgs/{world.org1}/analytics/today"
    before = (await world.client.get(today_url, headers=world.headers["admin_1"])).json()
    r = await world.book(quantity=2)
    await _confirm(world, r.json()["ref"])
    after = (await world.client.get(today_url, headers=world.headers["admin_1"])).json()
    assert after["counts"]["created"] == before["counts"]["created"] + 1
    assert after["counts"]["confirmed"] == before["counts"]["confirmed"] + 1
    assert after["net"] == before["net"] + 5000
    # Once rolled up the figure is the same, now read from the rollup rows.
    await analytics.catch_up(db=world.container.db)
    rolled = (await world.client.get(today_url, headers=world.headers["admin_1"])).json()
    assert rolled["counts"] == after["counts"]


async def test_summary_and_weekly_series_after_bookings(world):
    refs = []
    for who in ("customer_a", "customer_b", "customer_a"):
        r = await world.book(who=who)
        assert r.status_code == 201
        refs.append(r.json()["ref"])
    await _confirm(world, refs[0])
    await _confirm(world, refs[1])
    r = await world.client.post(f"/api/v1/bookings/{refs[1]}/transitions",
                                json={"action": "cancel", "reason": "x"},
                                headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    await analytics.catch_up(db=world.container.db)
    s = (await world.client.get(_summary_url(world), headers=world.headers["admin_1"])).json()
    assert s["counts"]["created"] == 3 and s["counts"]["confirmed"] == 2
    assert s["counts"]["cancelled"] == 1
    assert s["revenue"]["gross"] == 5000 and s["revenue"]["refunds"] == 2500
    assert s["revenue"]["net"] == 2500
    assert s["rates"]["confirmation_rate"] == round(2 / 3, 4)
    assert s["occupancy"]["capacity"]["used"] == 0  # the session starts outside the range
    staff = {p["name"]: p["events"] for p in s["staff"]}
    assert staff["Staff One"] == 2
    later = (world.container.clock.now() + timedelta(days=10)).date()
    s2 = (await world.client.get(_summary_url(world, to=later.isoformat()),
                                 headers=world.headers["admin_1"])).json()
    assert s2["occupancy"]["capacity"] == {"unit": "places", "used": 2, "available": 50,
                                           "rate": 0.04}
    ts = (await world.client.get(
        f"/api/v1/orgs/{world.org1}/analytics/timeseries?metric=created&interval=week",
        headers=world.headers["admin_1"])).json()
    assert sum(p["value"] for p in ts["points"]) == 3
    assert all(p["start"] <= s["to"] for p in ts["points"])


async def test_offering_page_views_feed_the_funnel(world):
    for who in ("anonymous", "customer_a", "customer_b", "admin_1"):
        r = await world.client.get(f"/api/v1/offerings/{world.offering}",
                                   headers=world.headers[who])
        assert r.status_code == 200
    await world.book()
    await analytics.catch_up(db=world.container.db)
    s = (await world.client.get(_summary_url(world), headers=world.headers["admin_1"])).json()
    assert s["funnel"]["views"] == 3  # the organization's own admin is not a visitor
    assert s["funnel"]["holds"] == 1
    assert s["funnel"]["view_to_hold"] == round(1 / 3, 4)
    ts = (await world.client.get(
        f"/api/v1/orgs/{world.org1}/analytics/timeseries?metric=views",
        headers=world.headers["admin_1"])).json()
    assert ts["points"][-1]["value"] == 3


async def test_web_offering_page_views_feed_the_funnel_but_members_do_not(world):
    for who in ("anonymous", "customer_a", "admin_1", "staff_1"):
        r = await world.client.get(f"/offerings/{world.offering}", headers=world.headers[who])
        assert r.status_code == 200 and "Night Concert" in r.text
    r = await world.client.get(f"/api/v1/offerings/{world.offering}")  # the API counts too
    assert r.status_code == 200
    assert (await world.client.get("/offerings/999999")).status_code == 404  # no view row
    await analytics.catch_up(db=world.container.db)
    s = (await world.client.get(_summary_url(world), headers=world.headers["admin_1"])).json()
    assert s["funnel"]["views"] == 3  # anonymous + Alice on the page, one API read


async def test_bookings_csv_streams_with_progress_and_neutralizes_formulas(world):
    r = await world.client.post("/api/v1/bookings", headers=world.headers["admin_1"], json={
        "offering_id": world.offering, "session_id": world.session, "quantity": 1,
        "customer": {"name": "=HYPERLINK(\"http://x\")", "email": "evil@example.com"}})
    assert r.status_code == 201, r.text
    await world.book()
    url = (f"/api/v1/orgs/{world.org1}/exports/bookings.csv?status=pending"
           "&progress_key=abc123")
    r = await world.client.get(url, headers=world.headers["admin_1"])
    assert r.status_code == 200 and r.headers["x-total-rows"] == "2"
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "ref" and len(rows) == 3
    names = {row[13] for row in rows[1:]}
    assert "'=HYPERLINK(\"http://x\")" in names
    p = await world.client.get(f"/api/v1/orgs/{world.org1}/exports/progress/abc123",
                               headers=world.headers["admin_1"])
    assert p.json() == {"key": "abc123", "rows": 2, "total": 2, "done": True}
    other = await world.client.get(f"/api/v1/orgs/{world.org1}/exports/progress/abc123",
                                   headers=world.headers["admin_2"])
    assert other.status_code == 403


async def test_report_csv_and_xlsx_workbook(world):
    await world.book()
    await analytics.catch_up(db=world.container.db)
    r = await world.client.get(f"/api/v1/orgs/{world.org1}/analytics/reports/daily.csv",
                               headers=world.headers["admin_1"])
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["day", "created", "confirmed"] and len(rows) == 31
    assert sum(int(x[1]) for x in rows[1:]) == 1
    bad = await world.client.get(f"/api/v1/orgs/{world.org1}/analytics/reports/nope.csv",
                                 headers=world.headers["admin_1"])
    assert bad.status_code == 422
    x = await world.client.get(
        f"/api/v1/orgs/{world.org1}/analytics/export.xlsx?include_bookings=true"
        f"&to={(world.container.clock.now() + timedelta(days=11)).date()}",
        headers=world.headers["admin_1"])
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.content), read_only=True)
    assert {"Daily", "Offerings", "Staff", "Funnel", "Bookings"} <= set(wb.sheetnames)
    assert len(list(wb["Bookings"].iter_rows())) == 2


@pytest.mark.parametrize("q", ["lic", "ALICE@EXAMPLE", "example.com", "li"])
async def test_booking_search_matches_name_and_email_fragments(world, q):
    a = (await world.book(who="customer_a")).json()["ref"]
    await world.book(who="customer_b")
    r = await world.client.get(f"/api/v1/bookings?org_id={world.org1}&q={q}",
                               headers=world.headers["admin_1"])
    refs = {b["ref"] for b in r.json()["items"]}
    assert a in refs
    if q != "example.com":
        assert len(refs) == 1


async def test_booking_search_by_reference_and_phone(world):
    r = await world.client.post("/api/v1/bookings", headers=world.headers["admin_1"], json={
        "offering_id": world.offering, "session_id": world.session, "quantity": 1,
        "customer": {"name": "Walk In", "email": "walkin@example.com",
                     "phone": "+49 30 1234567"}})
    ref = r.json()["ref"]
    for q in (ref, ref.lower(), "1234567", "30 12"):
        found = await world.client.get(f"/api/v1/bookings?org_id={world.org1}&q={q}",
                                       headers=world.headers["admin_1"])
        assert [b["ref"] for b in found.json()["items"]] == [ref], q


async def test_weekly_report_compares_last_week_with_the_week_before(world):
    clock = world.container.clock
    r = await world.book(quantity=2)
    await _confirm(world, r.json()["ref"])
    clock.advance(days=7)
    await analytics.catch_up(db=world.container.db)
    admin = await token_headers(world.client, "admin1@example.com")  # a week later
    report = (await world.client.get(f"/api/v1/orgs/{world.org1}/analytics/weekly-report",
                                     headers=admin)).json()
    assert report["week_start"] == "2026-06-01"  # the Monday of the booking's week
    assert "1 bookings" in report["subject"] and "€50.00 net" in report["subject"]
    assert "Night Concert" in report["text"] and "<table" in report["html"]
    staff = await world.client.get(f"/api/v1/orgs/{world.org1}/analytics/weekly-report",
                                   headers=await token_headers(world.client,
                                                               "staff1@example.com"))
    assert staff.status_code == 403


async def test_weekly_report_job_enqueues_once_per_admin_when_the_outbox_renders_it(
        world, monkeypatch):
    from bookpulse.services import analytics_report

    db = world.container.db
    monday_9 = world.container.clock.now().replace(hour=9)  # 2026-06-01 is a Monday
    monkeypatch.setattr(analytics_report, "outbox_accepts_reports", lambda: False)
    assert await analytics_report.enqueue_weekly_reports(db=db, now=monday_9) == 0
    async with db(write=True) as uow:
        if not hasattr(uow, "notify"):
            pytest.skip("the notification outbox is not installed")
    monkeypatch.setattr(analytics_report, "outbox_accepts_reports", lambda: True)
    sunday = monday_9 - timedelta(days=1)
    assert await analytics_report.enqueue_weekly_reports(db=db, now=sunday) == 0
    assert await analytics_report.enqueue_weekly_reports(db=db, now=monday_9) == 2
    assert await analytics_report.enqueue_weekly_reports(db=db, now=monday_9) == 0
    async with db(write=False) as uow:
        rows = await uow.notify.org_deliveries(world.org1)
    reports = [d for d in rows if d.kind == "weekly_report"]
    assert [d.recipient for d in reports] == ["admin1@example.com"]
    assert reports[0].payload["subject"].startswith("Org One: weekly report")
