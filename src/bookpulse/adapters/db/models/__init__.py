"""All tables, imported so ``Base.metadata`` knows them (Alembic and tests need that).

Each area keeps its tables in its own module; add the module here.
"""

from bookpulse.adapters.db.base import Base
from bookpulse.adapters.db.models.core import (
    Booking,
    BookingEvent,
    EventLogHead,
    IdempotencyKey,
    Membership,
    Offering,
    Organization,
    RefreshToken,
    Session,
    User,
    Venue,
    WebSession,
)

__all__ = [
    "Base", "Booking", "BookingEvent", "EventLogHead", "IdempotencyKey", "Membership",
    "Offering", "Organization", "RefreshToken", "Session", "User", "Venue", "WebSession",
]
