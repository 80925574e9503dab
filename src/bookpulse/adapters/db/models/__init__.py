"""All tables, imported so ``Base.metadata`` knows them (Alembic and tests need that).

Each area keeps its tables in its own module; add the module here.
"""

from bookpulse.adapters.db.base import Base
from bookpulse.adapters.db.models import notify as _notify  # noqa: F401 - registers the tables
from bookpulse.adapters.db.models.analytics import (  # noqa: F401 - registers the tables
    AnalyticsCursor,
    AnalyticsDaily,
    PageView,
)
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
from bookpulse.adapters.db.models.inventory import (  # noqa: F401 - registers the tables
    Resource,
    ResourceClaim,
    RoomNight,
    RoomRate,
    RoomType,
    Seat,
    SeatCategory,
    SeatClaim,
    SeatLayout,
    SeatSection,
    SlotService,
    TicketCount,
    TicketType,
)
from bookpulse.adapters.db.models.tickets import TicketCheckin, TicketKey  # noqa: F401

__all__ = [
    "Base", "Booking", "BookingEvent", "EventLogHead", "IdempotencyKey", "Membership",
    "Offering", "Organization", "RefreshToken", "Session", "User", "Venue", "WebSession",
]
