"""Merge the area branches (inventory, notifications, tickets, analytics) into one head,
so later migrations have a single parent.

Revision ID: 0008_merge_areas
Revises: 0003_inventory, 0005_notify, 0006_tickets, 0007_analytics
"""

from __future__ import annotations

revision = "0008_merge_areas"
down_revision = ("0003_inventory", "0005_notify", "0006_tickets", "0007_analytics")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
