"""The booking status lifecycle: one table says who may do what from which status.

    waitlisted -> pending -> confirmed -> checked_in -> (in_service) -> completed
                     |           |
                     v           v
       rejected / expired /  cancelled / no_show
           cancelled

``check_transition`` is the one place the table is enforced. It checks the role first
(a role that may never take the action gets ``Forbidden`` whatever the status), then the
status (``InvalidTransition``). Ownership and policy are the caller's facts, passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bookpulse.domain.errors import Forbidden, InvalidTransition


class Status(enum.StrEnum):
    WAITLISTED = "waitlisted"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    IN_SERVICE = "in_service"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


#: Statuses whose booking keeps its inventory (seats, places, nights, resource time).
#: Completed and no-show bookings consumed it; only cancelled, rejected and expired ones
#: (and waitlist entries, which never had any) do not hold it.
HOLDING = frozenset({Status.PENDING, Status.CONFIRMED, Status.CHECKED_IN, Status.IN_SERVICE,
                     Status.COMPLETED, Status.NO_SHOW})
#: Transitions into these statuses give the inventory back.
RELEASING = frozenset({Status.CANCELLED, Status.REJECTED, Status.EXPIRED})
#: Statuses a booking never leaves.
FINAL = frozenset(
    {Status.COMPLETED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED, Status.NO_SHOW}
)


class PaymentStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"
    SYSTEM = "system"


class Action(enum.StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"
    CANCEL = "cancel"
    DELAY = "delay"
    MODIFY = "modify"
    CHECK_IN = "check_in"
    START = "start"
    COMPLETE = "complete"
    NO_SHOW = "no_show"
    EXPIRE = "expire"
    OFFER = "offer"


class EventType(enum.StrEnum):
    CREATED = "created"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    DELAYED = "delayed"
    MODIFIED = "modified"
    CHECKED_IN = "checked_in"
    STARTED = "started"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    EXPIRED = "expired"
    WAITLIST_OFFERED = "waitlist_offered"
    PAID = "paid"
    REFUNDED = "refunded"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Rule:
    action: Action
    sources: frozenset[Status]
    target: Status | None  # None: the status stays (delay, modify)
    roles: frozenset[Role]
    event: EventType
    reason_required: bool = False


_C, _S, _A, _Y = Role.CUSTOMER, Role.STAFF, Role.ADMIN, Role.SYSTEM
_OPEN = frozenset({Status.PENDING, Status.CONFIRMED})

TRANSITIONS: dict[Action, Rule] = {
    rule.action: rule
    for rule in (
        Rule(Action.CONFIRM, frozenset({Status.PENDING}), Status.CONFIRMED,
             frozenset({_S, _A, _Y}), EventType.CONFIRMED),
        Rule(Action.REJECT, frozenset({Status.PENDING, Status.WAITLISTED}), Status.REJECTED,
             frozenset({_S, _A}), EventType.REJECTED),
        Rule(Action.CANCEL, frozenset({Status.PENDING, Status.CONFIRMED, Status.WAITLISTED}),
             Status.CANCELLED, frozenset({_C, _A, _Y}), EventType.CANCELLED),
        Rule(Action.DELAY, _OPEN, None, frozenset({_S, _A}), EventType.DELAYED,
             reason_required=True),
        Rule(Action.MODIFY, _OPEN, None, frozenset({_C, _A}), EventType.MODIFIED),
        Rule(Action.CHECK_IN, frozenset({Status.CONFIRMED}), Status.CHECKED_IN,
             frozenset({_S, _A}), EventType.CHECKED_IN),
        Rule(Action.START, frozenset({Status.CHECKED_IN}), Status.IN_SERVICE,
             frozenset({_S, _A}), EventType.STARTED),
        Rule(Action.COMPLETE, frozenset({Status.CHECKED_IN, Status.IN_SERVICE}),
             Status.COMPLETED, frozenset({_S, _A, _Y}), EventType.COMPLETED),
        Rule(Action.NO_SHOW, frozenset({Status.CONFIRMED}), Status.NO_SHOW,
             frozenset({_S, _A}), EventType.NO_SHOW),
        Rule(Action.EXPIRE, frozenset({Status.PENDING}), Status.EXPIRED,
             frozenset({_Y}), EventType.EXPIRED),
        Rule(Action.OFFER, frozenset({Status.WAITLISTED}), Status.PENDING,
             frozenset({_A, _Y}), EventType.WAITLIST_OFFERED),
    )
}

#: Actions a person may ask for through ``POST /bookings/{ref}/transitions``.
PUBLIC_ACTIONS = frozenset(
    {Action.CONFIRM, Action.REJECT, Action.CANCEL, Action.DELAY, Action.CHECK_IN,
     Action.START, Action.COMPLETE, Action.NO_SHOW}
)


def check_transition(action: Action, status: Status, role: Role) -> Rule:
    """Return the rule for ``action`` when ``role`` may take it from ``status``.

    Raises ``Forbidden`` when the role may never take the action, and
    ``InvalidTransition`` when the role may but the status does not allow it.
    """
    rule = TRANSITIONS[action]
    if role not in rule.roles:
        raise Forbidden(f"A {role} may not {action.replace('_', ' ')} a booking.",
                        action=str(action), role=str(role))
    if status not in rule.sources:
        raise InvalidTransition(
            f"Cannot {action.replace('_', ' ')} a booking that is {status.replace('_', ' ')}.",
            action=str(action), current_status=str(status),
        )
    return rule


def allowed_actions(status: Status, role: Role) -> list[Action]:
    """The public actions ``role`` may take on a booking in ``status`` (for buttons)."""
    return [a for a in TRANSITIONS if a in PUBLIC_ACTIONS
            and role in TRANSITIONS[a].roles and status in TRANSITIONS[a].sources]
