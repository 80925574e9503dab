"""event log on PostgreSQL: ids given inside COMMIT by a deferred trigger

Revision ID: 0010_event_ids_at_commit
Revises: q7_0009_search_text

Event ids must become visible in id order, so they are taken under the row lock of
``event_log_head``, which is held until the transaction ends. Before this revision the
application took that lock with a statement and then sent COMMIT: the lock was held for a
round trip to the application and back, and under load every writer of events queued
behind it, each holding a pooled connection while it waited (measured with ``bench live``:
the append waited up to 190 ms for the lock and requests up to 490 ms for a connection).

Now the application inserts its events with provisional, negative ids
(``-nextval('booking_events_provisional')``), and a deferred constraint trigger, which
PostgreSQL runs inside COMMIT, gives each of them its final id under the head lock, in the
order they were inserted, keeps the provisional id in ``provisional_id`` (the writer finds
its events by it after the commit) and points the booking at it. The lock is held only
inside the database server, for the trigger and the commit itself. Rows written with their
final id (bulk seeding) are left alone. SQLite only gains the (unused) column: its writers
are serialized anyway and take their ids before the commit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_event_ids_at_commit"
down_revision = "q7_0009_search_text"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE FUNCTION bp_event_id_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    final_id bigint;
BEGIN
    UPDATE event_log_head SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id
        INTO final_id;
    UPDATE booking_events SET id = final_id, provisional_id = NEW.id WHERE id = NEW.id;
    UPDATE bookings SET last_event_id = final_id WHERE id = NEW.booking_id;
    RETURN NULL;
END
$$
"""

_TRIGGER = """
CREATE CONSTRAINT TRIGGER booking_events_id_at_commit
    AFTER INSERT ON booking_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.id < 0)
    EXECUTE FUNCTION bp_event_id_at_commit()
"""


def upgrade() -> None:
    op.add_column("booking_events", sa.Column("provisional_id", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("CREATE SEQUENCE booking_events_provisional")
    op.execute(_FUNCTION)
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS booking_events_id_at_commit ON booking_events")
        op.execute("DROP FUNCTION IF EXISTS bp_event_id_at_commit()")
        op.execute("DROP SEQUENCE IF EXISTS booking_events_provisional")
    with op.batch_alter_table("booking_events") as batch:
        batch.drop_column("provisional_id")
