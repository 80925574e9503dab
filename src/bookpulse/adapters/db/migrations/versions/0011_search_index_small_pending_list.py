"""booking search index on PostgreSQL: a small pending list (256 kB instead of 4 MB)

Revision ID: 0011_gin_small_pending_list
Revises: 0010_event_ids_at_commit

Every status change of a booking updates its row, and since the status is indexed the
update is not a HOT one: PostgreSQL adds entries for the new row version to every index of
``bookings``, booking search's trigram GIN index included (about one entry per character
of name, e-mail and phone). GIN collects such entries in a pending list, and the
transaction that finds the list past ``gin_pending_list_limit`` merges all of it into the
index there and then, while the other writers of bookings wait (autovacuum also merges it,
when it runs). With the default limit, 4 MB, ``bench live`` showed booking transitions
stalling for 40-120 ms at the same points of every run (about 8.5 s and 41.5 s into its
200 changes/s). With 256 kB each merge is a sixteenth of that, and those stalls were gone.
Turning the pending list off (``fastupdate = off``) removed them too, but every booking
then wrote its entries into the index itself, and the seat rush was slower in three runs
(142-160 confirmed/s, against 168-189 before); with 256 kB it was 158-178.
"""

from __future__ import annotations

from alembic import op

revision = "0011_gin_small_pending_list"
down_revision = "0010_event_ids_at_commit"
branch_labels = None
depends_on = None

_INDEX = "ix_bookings_search_trgm"
_PENDING_LIST_KB = 256


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {_INDEX} SET (gin_pending_list_limit = {_PENDING_LIST_KB})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {_INDEX} RESET (gin_pending_list_limit)")
