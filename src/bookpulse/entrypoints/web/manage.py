"""Admin management pages: offerings (create, edit, publish, archive), their dated
sessions, and the organization's staff members and roles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from bookpulse.domain.errors import BookingError, InvalidInput, NotFound
from bookpulse.domain.lifecycle import Role
from bookpulse.domain.model import KIND_SHAPES, Kind
from bookpulse.entrypoints.api.deps import Id, container
from bookpulse.entrypoints.web.guards import admin
from bookpulse.entrypoints.web.render import check_csrf, flash, redirect, render
from bookpulse.services import accounts, catalog

router = APIRouter(include_in_schema=False)
SHAPES = {str(k): sorted(str(s) for s in v) for k, v in KIND_SHAPES.items()}


async def _form(request: Request) -> FormData:
    form = await request.form()
    await check_csrf(request, str(form.get("csrf_token") or ""))
    return form


def _money(value: str, field: str) -> int:
    try:
        amount = float(value.replace(",", "."))
    except ValueError:
        raise InvalidInput("Enter the price as a number, e.g. 25 or 19.50.", field=field) from None
    if not 0 <= amount < 10_000_000:
        raise InvalidInput("The price is out of range.", field=field)
    return round(amount * 100)


def _int_field(form: FormData, key: str, *, default: int | None = None) -> int | None:
    raw = str(form.get(key) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{key.replace('_', ' ').capitalize()} must be a whole number.",
                           field=key) from None


def offering_fields(form: FormData) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "description": str(form.get("description") or "").strip()[:5000],
        "location": str(form.get("location") or "").strip()[:200],
        "category": str(form.get("category") or "").strip()[:80],
        "price": _money(str(form.get("price") or "0"), "price"),
        "currency": str(form.get("currency") or "EUR").strip()[:3],
        "hold_minutes": _int_field(form, "hold_minutes", default=15),
        "auto_confirm": form.get("auto_confirm") == "on",
        "is_published": form.get("is_published") == "on",
    }
    tz = str(form.get("timezone") or "").strip()
    if tz:
        fields["timezone"] = tz
    free = str(form.get("cancel_free_hours") or "").strip()
    fields["cancel_free_hours"] = None if free == "" else _int_field(form, "cancel_free_hours")
    return fields


@router.get("/admin/{org_id:int}/offerings", response_class=HTMLResponse)
async def offerings_page(request: Request, org_id: Id) -> Response:
    _, org_id = await admin(request, org_id)
    async with container(request).db(write=False) as uow:
        org = await uow.catalog.org(org_id)
        rows = await uow.catalog.offerings(org_id=org_id, published_only=False, limit=500)
    return await render(request, "pages/admin/offerings.html", org=org, org_id=org_id,
                        offerings=rows, kinds=[str(k) for k in Kind], shapes=SHAPES,
                        is_admin=True, form={}, error=None)


@router.post("/admin/{org_id:int}/offerings")
async def create_offering(request: Request, org_id: Id) -> Response:
    form = await _form(request)
    principal, org_id = await admin(request, org_id)
    c = container(request)
    kind = str(form.get("kind") or "")
    shape = str(form.get("shape") or "") or (SHAPES.get(kind, ["capacity"])[0])
    try:
        o = await catalog.create_offering(db=c.db, principal=principal, org_id=org_id,
                                          kind=kind, shape=shape,
                                          name=str(form.get("name") or "")[:200],
                                          now=c.clock.now(), **offering_fields(form))
    except BookingError as exc:
        response = redirect(f"/admin/{org_id}/offerings")
        flash(request, response, f"Not created: {exc.detail}", "error")
        return response
    response = redirect(f"/admin/{org_id}/offerings/{o.id}")
    flash(request, response, f"{o.name} created.", "success")
    return response


async def _org_offering(request: Request, org_id: int, offering_id: int) -> Any:
    async with container(request).db(write=False) as uow:
        o = await uow.catalog.offering(offering_id)
    if o is None or o.org_id != org_id:
        raise NotFound("No such offering in this organization.")
    return o


@router.get("/admin/{org_id:int}/offerings/{offering_id:int}", response_class=HTMLResponse)
async def offering_page(request: Request, org_id: Id, offering_id: Id) -> Response:
    principal, org_id = await admin(request, org_id)
    o = await _org_offering(request, org_id, offering_id)
    async with container(request).db(write=False) as uow:
        sessions = await uow.catalog.sessions(o.id, limit=500)
    # manage_inventory builds on this module's form helpers: import it late.
    from bookpulse.entrypoints.web.manage_inventory import setup_context

    return await render(request, "pages/admin/offering.html", org_id=org_id, o=o,
                        sessions=sessions, is_admin=True,
                        setup_links=SETUP_LINKS.get(o.shape, []),
                        **await setup_context(request, principal, o))


#: Shape -> [(href with {org} and {offering}, label)]: the inventory set-up pages.
SETUP_LINKS: dict[str, list[tuple[str, str]]] = {}


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}")
async def update_offering(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await _form(request)
    principal, org_id = await admin(request, org_id)
    await _org_offering(request, org_id, offering_id)
    c = container(request)
    response = redirect(f"/admin/{org_id}/offerings/{offering_id}")
    try:
        if form.get("archive") == "1":
            await catalog.archive_offering(db=c.db, principal=principal,
                                           offering_id=offering_id, now=c.clock.now())
            response = redirect(f"/admin/{org_id}/offerings")
            flash(request, response, "Offering archived; its bookings are kept.", "success")
            return response
        fields = offering_fields(form)
        fields["name"] = str(form.get("name") or "")[:200]
        await catalog.update_offering(db=c.db, principal=principal, offering_id=offering_id,
                                      now=c.clock.now(), **fields)
    except BookingError as exc:
        flash(request, response, f"Not saved: {exc.detail}", "error")
        return response
    flash(request, response, "Saved.", "success")
    return response


def _local(value: str, tz: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("Enter a date and time.", field=field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.astimezone(UTC)


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/sessions")
async def add_session(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await _form(request)
    principal, org_id = await admin(request, org_id)
    o = await _org_offering(request, org_id, offering_id)
    c = container(request)
    response = redirect(f"/admin/{org_id}/offerings/{offering_id}")
    try:
        start = _local(str(form.get("start") or ""), o.timezone, "start")
        end = _local(str(form.get("end") or ""), o.timezone, "end")
        capacity = _int_field(form, "capacity") or 0
        await catalog.create_session(db=c.db, principal=principal, offering_id=o.id,
                                     start=start, end=end, capacity=capacity,
                                     now=c.clock.now(),
                                     layout_id=_int_field(form, "layout_id"))
    except BookingError as exc:
        flash(request, response, f"Session not added: {exc.detail}", "error")
        return response
    flash(request, response, "Session added.", "success")
    return response


@router.post("/admin/{org_id:int}/sessions/{session_id:int}")
async def update_session(request: Request, org_id: Id, session_id: Id) -> Response:
    form = await _form(request)
    principal, org_id = await admin(request, org_id)
    c = container(request)
    offering_id = _int_field(form, "offering_id") or 0
    response = redirect(f"/admin/{org_id}/offerings/{offering_id}")
    try:
        await _org_offering(request, org_id, offering_id)
        await catalog.update_session(db=c.db, principal=principal, session_id=session_id,
                                     now=c.clock.now(), capacity=_int_field(form, "capacity"),
                                     status=str(form.get("status") or "") or None)
    except BookingError as exc:
        flash(request, response, f"Not saved: {exc.detail}", "error")
        return response
    flash(request, response, "Session saved.", "success")
    return response


@router.get("/admin/{org_id:int}/members", response_class=HTMLResponse)
async def members_page(request: Request, org_id: Id) -> Response:
    principal, org_id = await admin(request, org_id)
    async with container(request).db(write=False) as uow:
        org = await uow.catalog.org(org_id)
        rows = await uow.users.members(org_id)
    return await render(request, "pages/admin/members.html", org=org, org_id=org_id,
                        members=rows, is_admin=True, me=principal.user_id)


@router.post("/admin/{org_id:int}/members")
async def set_member(request: Request, org_id: Id) -> Response:
    form = await _form(request)
    principal, org_id = await admin(request, org_id)
    c = container(request)
    response = redirect(f"/admin/{org_id}/members")
    try:
        role = Role(str(form.get("role") or "staff"))
        user = await accounts.set_member(db=c.db, principal=principal, org_id=org_id,
                                         email=str(form.get("email") or "")[:320],
                                         role=role, now=c.clock.now())
    except ValueError:
        flash(request, response, "Role must be staff or admin.", "error")
        return response
    except BookingError as exc:
        flash(request, response, exc.detail, "error")
        return response
    flash(request, response, f"{user.name} is now {role} of this organization.", "success")
    return response


@router.post("/admin/{org_id:int}/members/{user_id:int}/remove")
async def remove_member(request: Request, org_id: Id, user_id: Id) -> Response:
    await _form(request)
    principal, org_id = await admin(request, org_id)
    response = redirect(f"/admin/{org_id}/members")
    try:
        await accounts.remove_member(db=container(request).db, principal=principal,
                                     org_id=org_id, user_id=user_id)
    except BookingError as exc:
        flash(request, response, exc.detail, "error")
        return response
    flash(request, response, "Member removed.", "success")
    return response
