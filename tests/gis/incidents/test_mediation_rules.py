"""交办 and 当场办结 as rules (seed 003): the steps of ``workflow`` and who may take them
(``permissions``), pure."""

from __future__ import annotations

import datetime as dt

import pytest

from gis.areas.codes import Level
from gis.errors import ForbiddenError
from gis.incidents.permissions import CaseFacts, check_step, in_inbox, may
from gis.incidents.workflow import (
    Action,
    CaseFlow,
    State,
    TransitionNotAllowedError,
    apply,
    next_state,
)
from gis.lang import Lang
from gis.principal import Principal, Role

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
GRID = "370705001001001"
COMMUNITY = "370705001001"
HEAD, MEMBER, OUTSIDER = 21, 22, 23


def person(
    role: Role, areas: tuple[str, ...] | None, ref: str, staff: int | None = None
) -> Principal:
    return Principal("person", ref, role=role, areas=areas, ref=ref, staff_id=staff)


def handed(level: Level = Level.GRID, category: str = "dispute") -> CaseFacts:
    """A case handed to a unit: its head is the handler, its member in ``unit_staff``."""
    return CaseFacts(
        id=5,
        grid_code=GRID,
        category=category,
        level=level,
        handler_staff_id=HEAD,
        unit_staff=frozenset({HEAD, MEMBER}),
    )


def test_hand_over_leads_to_dispatched_and_settle_to_handled_on_the_spot() -> None:
    assert next_state(State.ACCEPTED, Action.HAND_OVER) is State.DISPATCHED
    assert next_state(State.DISPATCHED, Action.HAND_OVER) is State.DISPATCHED  # another unit
    with pytest.raises(TransitionNotAllowedError):
        next_state(State.REPORTED, Action.HAND_OVER)  # accepted (立案) first
    settled = apply(CaseFlow(), Action.SETTLE, actor="调解员", at=T0)
    assert (settled.state, settled.on_the_spot) == (State.HANDLED, True)
    accepted = apply(CaseFlow(), Action.ACCEPT, actor="a", at=T0)
    assert apply(accepted, Action.SETTLE, actor="b", at=T0).on_the_spot
    with pytest.raises(TransitionNotAllowedError):
        next_state(State.DISPATCHED, Action.SETTLE)  # dispatched: no longer at registration
    flow = settled
    for action, note in ((Action.FEEDBACK, ""), (Action.REWORK, "协议未履行")):
        flow = apply(flow, action, actor="c", at=T0, note=note)
    assert (flow.state, flow.on_the_spot, flow.rework_count) == (State.DISPATCHED, False, 1)
    assert (Action.HAND_OVER.name_zh, Action.SETTLE.name_zh) == ("交办", "当场办结")


def test_the_levels_that_dispatch_hand_over() -> None:
    case = CaseFacts(id=1, grid_code=GRID, category="dispute", level=Level.GRID)
    community = person(Role.COMMUNITY, (COMMUNITY,), "account:1")
    district = person(Role.DISTRICT, ("370705",), "account:2")
    manager = person(Role.GRID_MANAGER, (GRID,), "account:3", 7)
    mediator = person(Role.MEDIATOR, (COMMUNITY,), "account:4", 8)
    assert may(community, Action.HAND_OVER, case) and may(district, Action.HAND_OVER, case)
    for who in (manager, mediator):
        assert not may(who, Action.HAND_OVER, case)
        assert may(who, Action.SETTLE, case)  # at registration, as they accept
    with pytest.raises(ForbiddenError) as refused:
        check_step(manager, Action.HAND_OVER, case)
    assert "交办由社区及以上负责" in refused.value.text(Lang.ZH)
    assert "hand_over is for the community" in refused.value.text(Lang.EN)
    # Once the case is up at subdistrict level the community neither hands it over nor
    # settles it.
    up = CaseFacts(id=1, grid_code=GRID, category="dispute", level=Level.SUBDISTRICT)
    assert not may(community, Action.HAND_OVER, up) and not may(community, Action.SETTLE, up)


def test_the_head_and_the_units_staff_handle_a_handed_case_and_find_it_in_their_inbox() -> None:
    # Community staff (their inbox holds community-level cases) as the unit's people.
    head = person(Role.COMMUNITY, (COMMUNITY,), "account:21", HEAD)
    member = person(Role.COMMUNITY, (COMMUNITY,), "account:22", MEMBER)
    outsider = person(Role.COMMUNITY, (COMMUNITY,), "account:23", OUTSIDER)
    case = handed(category="exposed_garbage")
    for who in (head, member):
        assert in_inbox(who, case, "dispatched")
    assert not in_inbox(outsider, case, "dispatched")
    # Handed over at community level (the community hands its own cases over too): of the
    # mediators, only the unit's people handle it.
    up = handed(Level.COMMUNITY)
    for staff_id, allowed in ((HEAD, True), (MEMBER, True), (OUTSIDER, False)):
        mediator = person(Role.MEDIATOR, (COMMUNITY,), f"account:{staff_id}", staff_id)
        assert may(mediator, Action.HANDLE, up) is allowed
        assert may(mediator, Action.FEEDBACK, up) is allowed
        assert not may(mediator, Action.VERIFY, up)
