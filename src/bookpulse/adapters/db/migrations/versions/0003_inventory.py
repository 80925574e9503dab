"""inventory engine: ticket types, seat maps, room nights, resources and slots

Revision ID: 0003_inventory
Revises: 0001_core
Create Date: 2026-11-22 05:10:00

On PostgreSQL ``resource_claims`` also gets an exclusion constraint (no two claims of
one resource overlap) when the ``btree_gist`` extension can be created; the row lock
taken by the slot handler is the first guard, the constraint the second.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

from bookpulse.adapters.db.base import UTCDateTime

revision = "0003_inventory"
down_revision = "0001_core"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", BigId, primary_key=True, nullable=False)


def _fk(name: str, target: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, BigId, sa.ForeignKey(target), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ticket_types", _id(), _fk("offering_id", "offerings.id"),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("price >= 0", name=op.f("ck_ticket_types_price")),
    )
    op.create_index("ix_ticket_types_offering_id", "ticket_types", ["offering_id"])
    op.create_table(
        "ticket_counts",
        sa.Column("session_id", BigId, sa.ForeignKey("sessions.id"), primary_key=True),
        sa.Column("ticket_type_id", BigId, sa.ForeignKey("ticket_types.id"), primary_key=True),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.CheckConstraint("taken >= 0", name=op.f("ck_ticket_counts_taken")),
    )

    op.create_table(
        "seat_layouts", _id(), _fk("org_id", "organizations.id"),
        _fk("venue_id", "venues.id", nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_seat_layouts_org_id", "seat_layouts", ["org_id"])
    op.create_table(
        "seat_categories", _id(), _fk("layout_id", "seat_layouts.id"),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("color", sa.String(16), nullable=False),
        sa.CheckConstraint("price >= 0", name=op.f("ck_seat_categories_price")),
    )
    op.create_index("ix_seat_categories_layout_id", "seat_categories", ["layout_id"])
    op.create_table(
        "seat_sections", _id(), _fk("layout_id", "seat_layouts.id"),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_seat_sections_layout_id", "seat_sections", ["layout_id"])
    op.create_table(
        "seats", _id(), _fk("layout_id", "seat_layouts.id"),
        _fk("section_id", "seat_sections.id"), _fk("category_id", "seat_categories.id"),
        sa.Column("row_label", sa.String(8), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("accessible", sa.Boolean(), nullable=False),
        sa.Column("for_sale", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("section_id", "row_label", "number",
                            name=op.f("uq_seats_section_id")),
    )
    op.create_index("ix_seats_layout", "seats", ["layout_id", "section_id"])
    op.create_table(
        "seat_claims", _id(), _fk("session_id", "sessions.id"), _fk("seat_id", "seats.id"),
        sa.UniqueConstraint("session_id", "seat_id", name=op.f("uq_seat_claims_session_id")),
    )

    op.create_table(
        "room_types", _id(), _fk("offering_id", "offerings.id"),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("default_rate", sa.Integer(), nullable=False),
        sa.Column("min_stay", sa.Integer(), nullable=False),
        sa.Column("max_guests", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("units >= 0", name=op.f("ck_room_types_units")),
        sa.CheckConstraint("min_stay >= 1", name=op.f("ck_room_types_min_stay")),
    )
    op.create_index("ix_room_types_offering_id", "room_types", ["offering_id"])
    op.create_table(
        "room_rates",
        sa.Column("room_type_id", BigId, sa.ForeignKey("room_types.id"), primary_key=True),
        sa.Column("night", sa.Date(), primary_key=True),
        sa.Column("rate", sa.Integer(), nullable=False),
        sa.CheckConstraint("rate >= 0", name=op.f("ck_room_rates_rate")),
    )
    op.create_table(
        "room_nights",
        sa.Column("room_type_id", BigId, sa.ForeignKey("room_types.id"), primary_key=True),
        sa.Column("night", sa.Date(), primary_key=True),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.CheckConstraint("taken >= 0", name=op.f("ck_room_nights_taken")),
    )

    op.create_table(
        "resources", _id(), _fk("offering_id", "offerings.id"),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("min_party", sa.Integer(), nullable=False),
        sa.Column("max_party", sa.Integer(), nullable=False),
        sa.Column("combinable", sa.Boolean(), nullable=False),
        sa.Column("skills", Json, nullable=False),
        sa.Column("weekly_hours", Json, nullable=False),
        sa.Column("breaks", Json, nullable=False),
        sa.Column("days_off", Json, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_resources_offering_id", "resources", ["offering_id"])
    op.create_table(
        "slot_services", _id(), _fk("offering_id", "offerings.id"),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_before", sa.Integer(), nullable=False),
        sa.Column("buffer_after", sa.Integer(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(80), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_slot_services_duration")),
    )
    op.create_index("ix_slot_services_offering_id", "slot_services", ["offering_id"])
    op.create_table(
        "resource_claims", _id(), _fk("resource_id", "resources.id"),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_resource_claims_span")),
    )
    op.create_index("ix_resource_claims_resource", "resource_claims", ["resource_id", "start_at"])
    _exclusion_constraint()


def _exclusion_constraint() -> None:
    """Second guard on PostgreSQL: no overlapping claims of one resource. Creating the
    btree_gist extension needs privileges; without them we keep the row-lock guard."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS btree_gist")
        savepoint.commit()
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return
    bind.exec_driver_sql(
        "ALTER TABLE resource_claims ADD CONSTRAINT ex_resource_claims_overlap "
        "EXCLUDE USING gist (resource_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)")


def downgrade() -> None:
    for table in ("resource_claims", "slot_services", "resources", "room_nights",
                  "room_rates", "room_types", "seat_claims", "seats", "seat_sections",
                  "seat_categories", "seat_layouts", "ticket_counts", "ticket_types"):
        op.drop_table(table)
