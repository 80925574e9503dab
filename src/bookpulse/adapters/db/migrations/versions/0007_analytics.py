"""analytics: daily rollups, rollup cursor, page views; fast booking search

Revision ID: 0007_analytics
Revises: 0001_core

Booking search (``q``: name, e-mail and phone fragments) gets a trigram index on each
database: pg_trgm GIN indexes on the same expressions the query uses on PostgreSQL, and an
external-content FTS5 table with the trigram tokenizer on SQLite, kept in step with
``bookings`` by triggers (see ``QueryRepo._booking_filter``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_analytics"
down_revision = "0001_core"
branch_labels = None
depends_on = None

_COUNTERS = (
    "created", "confirmed", "cancelled", "rejected", "expired", "no_show", "checked_in",
    "completed", "delayed", "modified", "events", "places_confirmed",
)
_BIG = ("delay_minutes", "gross", "refunds", "lead_minutes")

_SQLITE_SEARCH = [
    """CREATE VIRTUAL TABLE bookings_search USING fts5(
        customer_name, customer_email, customer_phone,
        content='bookings', content_rowid='id', tokenize='trigram')""",
    "INSERT INTO bookings_search(bookings_search) VALUES ('rebuild')",
    """CREATE TRIGGER bookings_search_ai AFTER INSERT ON bookings BEGIN
        INSERT INTO bookings_search(rowid, customer_name, customer_email, customer_phone)
        VALUES (new.id, new.customer_name, new.customer_email, new.customer_phone);
    END""",
    """CREATE TRIGGER bookings_search_ad AFTER DELETE ON bookings BEGIN
        INSERT INTO bookings_search(bookings_search, rowid, customer_name, customer_email,
                                    customer_phone)
        VALUES ('delete', old.id, old.customer_name, old.customer_email, old.customer_phone);
    END""",
    """CREATE TRIGGER bookings_search_au AFTER UPDATE OF customer_name, customer_email,
        customer_phone ON bookings
        WHEN old.customer_name IS NOT new.customer_name
          OR old.customer_email IS NOT new.customer_email
          OR old.customer_phone IS NOT new.customer_phone
    BEGIN
        INSERT INTO bookings_search(bookings_search, rowid, customer_name, customer_email,
                                    customer_phone)
        VALUES ('delete', old.id, old.customer_name, old.customer_email, old.customer_phone);
        INSERT INTO bookings_search(rowid, customer_name, customer_email, customer_phone)
        VALUES (new.id, new.customer_name, new.customer_email, new.customer_phone);
    END""",
]

_PG_SEARCH = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_bookings_name_trgm ON bookings "
    "USING gin (lower(customer_name) gin_trgm_ops)",
    "CREATE INDEX ix_bookings_email_trgm ON bookings "
    "USING gin (lower(customer_email) gin_trgm_ops)",
    "CREATE INDEX ix_bookings_phone_trgm ON bookings USING gin (customer_phone gin_trgm_ops)",
]


def upgrade() -> None:
    counters = [sa.Column(n, sa.Integer(), nullable=False, server_default="0")
                for n in _COUNTERS]
    big = [sa.Column(n, sa.BigInteger(), nullable=False, server_default="0") for n in _BIG]
    op.create_table(
        "analytics_daily",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("venue_id", sa.Integer(), nullable=False, server_default="0"),
        *counters, *big,
        sa.PrimaryKeyConstraint("org_id", "day", "offering_id", "actor_id",
                                name=op.f("pk_analytics_daily")),
    )
    op.create_index("ix_analytics_daily_org_day", "analytics_daily", ["org_id", "day"])
    op.create_table(
        "analytics_cursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("value", sa.String(length=64), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_cursor")),
    )
    op.execute("INSERT INTO analytics_cursor (name, last_event_id, value) "
               "VALUES ('rollup', 0, '')")
    op.create_table(
        "page_views",
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("offering_id", "day", name=op.f("pk_page_views")),
    )
    op.create_index("ix_page_views_org_day", "page_views", ["org_id", "day"])
    # Date range + status + kind listings: the kind filter narrows within an org's range.
    op.create_index("ix_bookings_org_kind_start", "bookings", ["org_id", "kind", "start_at"])
    statements = _SQLITE_SEARCH if op.get_bind().dialect.name == "sqlite" else _PG_SEARCH
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("bookings_search_ai", "bookings_search_ad", "bookings_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS bookings_search")
    else:
        for name in ("ix_bookings_name_trgm", "ix_bookings_email_trgm",
                     "ix_bookings_phone_trgm"):
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_bookings_org_kind_start", table_name="bookings")
    op.drop_index("ix_page_views_org_day", table_name="page_views")
    op.drop_table("page_views")
    op.drop_table("analytics_cursor")
    op.drop_index("ix_analytics_daily_org_day", table_name="analytics_daily")
    op.drop_table("analytics_daily")
