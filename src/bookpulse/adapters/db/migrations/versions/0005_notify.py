"""notifications: outbox, attempts, preferences, push, webhooks, in-app

Revision ID: 0005_notify
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bookpulse.adapters.db.base import BigId, Json, UTCDateTime

revision = "0005_notify"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notify_cursors",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        _ts("updated_at", True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notify_cursors")),
    )
    op.execute("INSERT INTO notify_cursors (name, last_event_id) VALUES ('outbox', 0)")

    op.create_table(
        "deliveries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("booking_id", sa.BigInteger(), nullable=True),
        sa.Column("org_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient", sa.String(400), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=True),
        sa.Column("subscription_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", Json, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        _ts("locked_until", True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response", Json, nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("sent_at", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_deliveries_idempotency_key")),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_booking", "deliveries", ["booking_id", "id"])
    op.create_index("ix_deliveries_org_status", "deliveries", ["org_id", "status", "id"])
    op.create_index("ix_deliveries_endpoint", "deliveries", ["endpoint_id", "id"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("delivery_id", BigId, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        _ts("at"),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE",
                                name=op.f("fk_delivery_attempts_delivery_id_deliveries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts",
                    ["delivery_id", "id"])

    op.create_table(
        "notice_marks",
        sa.Column("key", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notice_marks")),
    )

    op.create_table(
        "notification_preferences",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("prefs", Json, nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_notification_preferences_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
    )

    op.create_table(
        "org_notify_settings",
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("settings", Json, nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"],
                                name=op.f("fk_org_notify_settings_org_id_organizations")),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_notify_settings")),
    )

    op.create_table(
        "push_subscriptions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("endpoint", sa.String(1000), nullable=False),
        sa.Column("p256dh", sa.String(200), nullable=False),
        sa.Column("auth", sa.String(100), nullable=False),
        sa.Column("user_agent", sa.String(300), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_push_subscriptions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_index("ix_push_subscriptions_user_id", "push_subscriptions", ["user_id"])

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", BigId, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("event_types", Json, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100), nullable=True),
        _ts("previous_secret_expires_at", True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"],
                                name=op.f("fk_webhook_endpoints_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index("ix_webhook_endpoints_org_id", "webhook_endpoints", ["org_id"])

    op.create_table(
        "notifications",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=True),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("booking_ref", sa.String(16), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        _ts("created_at"),
        _ts("read_at", True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_notifications_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_notifications_delivery_id")),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "read_at", "id"])


def downgrade() -> None:
    for table in ("notifications", "webhook_endpoints", "push_subscriptions",
                  "org_notify_settings", "notification_preferences", "notice_marks",
                  "delivery_attempts", "deliveries", "notify_cursors"):
        op.drop_table(table)
