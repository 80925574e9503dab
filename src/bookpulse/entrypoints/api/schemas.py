"""Request and response bodies of the public API (see shared/API.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

MAX_INT = 2**31 - 1
Name = Field(min_length=1, max_length=200)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemError(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details; extension members vary by problem type."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text,
           "content": {"application/problem+json": {}}}
    for code, text in ((400, "Bad request"), (401, "Authentication required"),
                       (403, "Not allowed"), (404, "Not found"),
                       (409, "Conflict with the current state"), (422, "Invalid input"),
                       (429, "Too many requests"))
}


# Auth ---------------------------------------------------------------------------------

class RegisterIn(Strict):
    email: EmailStr
    password: str = Field(min_length=8, max_length=1024)
    name: str = Name
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9 +().-]*$")


class TokenIn(Strict):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MembershipOut(BaseModel):
    org_id: int
    role: Literal["staff", "admin"]
    org_name: str | None = None


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    phone: str | None = None
    created_at: datetime
    memberships: list[MembershipOut] = []


# Catalogue ------------------------------------------------------------------------------

Kind = Literal["event", "tour", "hotel", "restaurant", "spa"]
Shape = Literal["capacity", "seats", "nights", "slots"]


class OfferingIn(Strict):
    kind: Kind
    shape: Shape
    name: str = Name
    description: str = Field(default="", max_length=10_000)
    location: str | None = Field(default=None, max_length=200)
    category: str = Field(default="", max_length=80)
    timezone: str | None = Field(default=None, max_length=64)
    price: int = Field(default=0, ge=0, le=MAX_INT)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    venue_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    hold_minutes: int = Field(default=15, ge=1, le=10080)
    auto_confirm: bool = True
    cancel_free_hours: int | None = Field(default=24, ge=0, le=8760)
    is_published: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)


class OfferingPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    location: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=80)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    price: int | None = Field(default=None, ge=0, le=MAX_INT)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    venue_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    hold_minutes: int | None = Field(default=None, ge=1, le=10080)
    auto_confirm: bool | None = None
    cancel_free_hours: int | None = Field(default=None, ge=0, le=8760)
    is_published: bool | None = None
    settings: dict[str, Any] | None = None


class PolicyOut(BaseModel):
    free_until_hours: int | None
    description: str


class OfferingOut(BaseModel):
    id: int
    org_id: int
    venue_id: int | None
    kind: Kind
    shape: Shape
    name: str
    description: str
    location: str
    category: str
    timezone: str
    price: int
    currency: str
    hold_minutes: int
    auto_confirm: bool
    is_published: bool
    cancellation_policy: PolicyOut
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class OfferingPage(BaseModel):
    items: list[OfferingOut]
    next_cursor: str | None
    total: int | None = None


class SessionIn(Strict):
    start: AwareDatetime
    end: AwareDatetime
    capacity: int = Field(ge=1, le=1_000_000)
    layout_id: int | None = Field(default=None, ge=1, le=MAX_INT)


class SessionPatch(Strict):
    capacity: int | None = Field(default=None, ge=1, le=1_000_000)
    status: Literal["scheduled", "closed"] | None = None


class SessionOut(BaseModel):
    id: int
    offering_id: int
    start: datetime
    end: datetime
    capacity: int
    taken: int
    available: int
    status: str
    layout_id: int | None = None


class VenueIn(Strict):
    name: str = Name
    timezone: str = Field(min_length=1, max_length=64)
    address: str = Field(default="", max_length=400)
    city: str = Field(default="", max_length=120)


class VenueOut(BaseModel):
    id: int
    org_id: int
    name: str
    address: str
    city: str
    timezone: str


class OrgOut(BaseModel):
    id: int
    name: str
    slug: str
    timezone: str
    role: Literal["staff", "admin"] | None = None


class MemberIn(Strict):
    email: EmailStr
    role: Literal["staff", "admin"]


class MemberOut(BaseModel):
    user_id: int
    email: str
    name: str
    role: Literal["staff", "admin"]


# Bookings -----------------------------------------------------------------------------

class ContactIn(Strict):
    name: str = Name
    email: EmailStr
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9 +().-]*$")


class BookingIn(Strict):
    offering_id: int = Field(ge=1, le=MAX_INT)
    session_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    quantity: int = Field(default=1, ge=1, le=1000)
    tickets: dict[str, int] | None = Field(default=None, max_length=20)
    seat_ids: list[int] | None = Field(default=None, max_length=100)
    best_available: bool = False
    room_type_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    check_in: date | None = None
    check_out: date | None = None
    service_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    resource_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    start: AwareDatetime | None = None
    party_size: int | None = Field(default=None, ge=1, le=100)
    notes: str | None = Field(default=None, max_length=2000)
    customer: ContactIn | None = None


class BookingPatch(Strict):
    quantity: int | None = Field(default=None, ge=1, le=1000)
    session_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    seat_ids: list[int] | None = Field(default=None, max_length=100)
    tickets: dict[str, int] | None = Field(default=None, max_length=20)
    room_type_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    check_in: date | None = None
    check_out: date | None = None
    start: AwareDatetime | None = None
    service_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    resource_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    party_size: int | None = Field(default=None, ge=1, le=100)
    reason: str | None = Field(default=None, max_length=2000)


class TransitionIn(Strict):
    action: Literal["confirm", "reject", "cancel", "delay", "check_in", "start", "complete",
                    "no_show"]
    reason: str | None = Field(default=None, max_length=2000)
    new_start: AwareDatetime | None = None
    new_end: AwareDatetime | None = None
    expected_version: int | None = Field(default=None, ge=1, le=MAX_INT)


class OfferingRef(BaseModel):
    id: int
    name: str
    kind: Kind
    shape: Shape
    timezone: str
    location: str


class CustomerOut(BaseModel):
    id: int | None
    name: str
    email: str
    phone: str | None


class BookingOut(BaseModel):
    ref: str
    status: str
    payment_status: str
    org_id: int
    offering: OfferingRef
    session_id: int | None
    start: datetime
    end: datetime
    quantity: int
    seats: list[Any] | None = None
    details: dict[str, Any]
    customer: CustomerOut
    price: int
    currency: str
    hold_until: datetime | None
    cancellation_policy: PolicyOut
    created_at: datetime
    updated_at: datetime
    version: int
    last_event_id: int | None
    allowed_actions: list[str] = []


class BookingPage(BaseModel):
    items: list[BookingOut]
    next_cursor: str | None


class EventOut(BaseModel):
    id: int
    type: str
    from_status: str | None
    to_status: str | None
    actor: dict[str, Any]
    reason: str | None
    data: dict[str, Any]
    version: int
    created_at: datetime


class HealthOut(BaseModel):
    status: str
    database: str
    broker: str
    version: str
