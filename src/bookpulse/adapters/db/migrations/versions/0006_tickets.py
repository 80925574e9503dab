"""tickets: signing keys per organization and per-person check-ins

Revision ID: 0006_tickets
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bookpulse.adapters.db.base import BigId, UTCDateTime

revision = "0006_tickets"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_keys",
        sa.Column("id", BigId, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("kid", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'previous', 'retired')",
                           name=op.f("ck_ticket_keys_status")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"],
                                name=op.f("fk_ticket_keys_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_keys")),
        sa.UniqueConstraint("org_id", "kid", name=op.f("uq_ticket_keys_org_id")),
    )
    op.create_table(
        "ticket_checkins",
        sa.Column("id", BigId, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("booking_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("checked_in_at", UTCDateTime(), nullable=False),
        sa.Column("scanned_at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("gate", sa.String(length=80), nullable=True),
        sa.Column("device_id", sa.String(length=120), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"],
                                name=op.f("fk_ticket_checkins_org_id_organizations")),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"],
                                name=op.f("fk_ticket_checkins_booking_id_bookings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_checkins")),
        sa.UniqueConstraint("booking_id", "position",
                            name=op.f("uq_ticket_checkins_booking_id")),
    )
    with op.batch_alter_table("ticket_checkins", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_checkins_org_at", ["org_id", "checked_in_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_checkins_org_at")
    op.drop_table("ticket_checkins")
    op.drop_table("ticket_keys")
