"""Every (action, status, role) combination against the one transition table."""

from __future__ import annotations

import itertools

import pytest

from bookpulse.domain.errors import Forbidden, InvalidTransition
from bookpulse.domain.lifecycle import (
    FINAL,
    HOLDING,
    RELEASING,
    TRANSITIONS,
    Action,
    Role,
    Status,
    allowed_actions,
    check_transition,
)

# The lifecycle as the product promises it, written out independently of the table.
EXPECTED: dict[Action, tuple[set[Status], Status | None, set[Role]]] = {
    Action.CONFIRM: ({Status.PENDING}, Status.CONFIRMED, {Role.STAFF, Role.ADMIN, Role.SYSTEM}),
    Action.REJECT: ({Status.PENDING, Status.WAITLISTED}, Status.REJECTED,
                    {Role.STAFF, Role.ADMIN}),
    Action.CANCEL: ({Status.PENDING, Status.CONFIRMED, Status.WAITLISTED}, Status.CANCELLED,
                    {Role.CUSTOMER, Role.ADMIN, Role.SYSTEM}),
    Action.DELAY: ({Status.PENDING, Status.CONFIRMED}, None, {Role.STAFF, Role.ADMIN}),
    Action.MODIFY: ({Status.PENDING, Status.CONFIRMED}, None, {Role.CUSTOMER, Role.ADMIN}),
    Action.CHECK_IN: ({Status.CONFIRMED}, Status.CHECKED_IN, {Role.STAFF, Role.ADMIN}),
    Action.START: ({Status.CHECKED_IN}, Status.IN_SERVICE, {Role.STAFF, Role.ADMIN}),
    Action.COMPLETE: ({Status.CHECKED_IN, Status.IN_SERVICE}, Status.COMPLETED,
                      {Role.STAFF, Role.ADMIN, Role.SYSTEM}),
    Action.NO_SHOW: ({Status.CONFIRMED}, Status.NO_SHOW, {Role.STAFF, Role.ADMIN}),
    Action.EXPIRE: ({Status.PENDING}, Status.EXPIRED, {Role.SYSTEM}),
    Action.OFFER: ({Status.WAITLISTED}, Status.PENDING, {Role.ADMIN, Role.SYSTEM}),
}

CASES = list(itertools.product(Action, Status, Role))


def test_table_covers_every_action() -> None:
    assert set(TRANSITIONS) == set(Action) == set(EXPECTED)


@pytest.mark.parametrize(("action", "status", "role"), CASES,
                         ids=[f"{a}-{s}-{r}" for a, s, r in CASES])
def test_transition(action: Action, status: Status, role: Role) -> None:
    sources, target, roles = EXPECTED[action]
    if role not in roles:
        with pytest.raises(Forbidden):
            check_transition(action, status, role)
    elif status not in sources:
        with pytest.raises(InvalidTransition):
            check_transition(action, status, role)
    else:
        rule = check_transition(action, status, role)
        assert rule.target == target


def test_final_statuses_allow_no_change_of_status() -> None:
    for status in FINAL:
        for role in Role:
            assert [a for a in allowed_actions(status, role)
                    if TRANSITIONS[a].target is not None] == []


def test_releasing_statuses_do_not_hold_inventory() -> None:
    assert not (RELEASING & HOLDING)
    assert Status.WAITLISTED not in HOLDING


def test_staff_may_not_cancel_but_admin_may() -> None:
    assert Action.CANCEL not in allowed_actions(Status.CONFIRMED, Role.STAFF)
    assert Action.CANCEL in allowed_actions(Status.CONFIRMED, Role.ADMIN)
    assert Action.CANCEL in allowed_actions(Status.CONFIRMED, Role.CUSTOMER)
