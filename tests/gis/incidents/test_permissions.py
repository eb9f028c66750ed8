"""Who may take which step of a case (``gis.incidents.permissions``): pure rules."""

from __future__ import annotations

import pytest

from gis.areas.codes import Level
from gis.errors import ConflictError, ForbiddenError, NotFoundError
from gis.incidents.permissions import (
    CaseFacts,
    PhotoStage,
    allowed_for,
    check_merge,
    check_photo,
    check_step,
    may,
    reaches,
)
from gis.incidents.workflow import Action, State
from gis.lang import Lang
from gis.principal import SYSTEM, Principal, Role

GRID = "370705001001001"
OTHER_GRID = "370705001001002"
COMMUNITY = "370705001001"
OTHER_COMMUNITY = "370705001002"
SUBDISTRICT = "370705001"
MANAGER_STAFF = 7


def person(
    role: Role, areas: tuple[str, ...] | None, ref: str, staff_id: int | None = None
) -> Principal:
    return Principal("person", ref, role=role, areas=areas, ref=ref, staff_id=staff_id)


MANAGER = person(Role.GRID_MANAGER, (GRID,), "account:1", staff_id=MANAGER_STAFF)
NEIGHBOUR = person(Role.GRID_MANAGER, (OTHER_GRID,), "account:2", staff_id=8)
B_POST = person(Role.GRID_MANAGER, (OTHER_GRID, GRID), "account:3", staff_id=9)
COMMUNITY_STAFF = person(Role.COMMUNITY, (COMMUNITY,), "account:4")
OTHER_COMMUNITY_STAFF = person(Role.COMMUNITY, (OTHER_COMMUNITY,), "account:5")
SUBDISTRICT_STAFF = person(Role.SUBDISTRICT, (SUBDISTRICT,), "account:6")
DISTRICT_STAFF = person(Role.DISTRICT, ("370705",), "account:7")
ADMIN = person(Role.ADMIN, None, "account:8")
PLANNER = person(Role.PLANNER, None, "account:9")
MEDIATOR = person(Role.MEDIATOR, (COMMUNITY,), "account:10", staff_id=11)
HOTLINE = Principal.system("key:热线", scopes=("incidents:write", "incidents:read"))
CLAIMED = Principal.claimed("王网格员")


def case(level: Level = Level.GRID, **kw: object) -> CaseFacts:
    fields: dict[str, object] = {
        "id": 42,
        "grid_code": GRID,
        "category": "exposed_garbage",
        "level": level,
        "handler_staff_id": MANAGER_STAFF,
    }
    fields.update(kw)
    return CaseFacts(**fields)  # type: ignore[arg-type]


def refused(principal: Principal, action: Action, facts: CaseFacts) -> str:
    """The refusal in both languages, Chinese first (what people read by default)."""
    with pytest.raises(ForbiddenError) as caught:
        check_step(principal, action, facts)
    return f"{caught.value.text(Lang.ZH)} / {caught.value.text(Lang.EN)}"


# ------------------------------------------------------------------------ grid level


def test_a_grid_manager_acts_on_the_cases_of_their_own_grid_only() -> None:
    here = case()
    for action in (Action.ACCEPT, Action.CANCEL, Action.ESCALATE, Action.VERIFY, Action.REWORK):
        assert may(MANAGER, action, here), action
        assert may(B_POST, action, here), action  # a B post covers the grid too
        assert not may(NEIGHBOUR, action, here), action
    with pytest.raises(NotFoundError, match="no incident has id 42"):
        check_step(NEIGHBOUR, Action.VERIFY, here)  # another grid's case does not exist for them


def test_a_grid_manager_verifies_in_their_own_grid_but_not_another() -> None:
    mine = case(handler_staff_id=None)
    theirs = case(grid_code=OTHER_GRID, handler_staff_id=None)
    assert may(MANAGER, Action.VERIFY, mine)
    assert not may(MANAGER, Action.VERIFY, theirs)
    assert may(NEIGHBOUR, Action.VERIFY, theirs)


def test_dispatch_and_evaluation_are_the_communitys() -> None:
    here = case()
    for action in (Action.DISPATCH, Action.REDISPATCH, Action.EVALUATE):
        message = refused(MANAGER, action, here)
        assert "社区及以上" in message and "community" in message
        assert "a grid manager accepts" in message  # what the role may do
        assert may(COMMUNITY_STAFF, action, here)
        assert may(SUBDISTRICT_STAFF, action, here)
        assert may(DISTRICT_STAFF, action, here) and may(ADMIN, action, here)
        assert not may(OTHER_COMMUNITY_STAFF, action, here)


def test_the_handler_and_the_grids_manager_handle() -> None:
    dispatched_to_worker = case(handler_staff_id=99)
    worker = person(Role.COMMUNITY, (COMMUNITY,), "account:20", staff_id=99)
    for action in (Action.HANDLE, Action.FEEDBACK):
        assert may(MANAGER, action, dispatched_to_worker)
        assert may(worker, action, dispatched_to_worker)
        assert not may(NEIGHBOUR, action, dispatched_to_worker)


# ------------------------------------------------------------------- who handled it


def test_whoever_handled_a_case_cannot_verify_send_back_or_close_it() -> None:
    handled = case(handled_by=frozenset({MANAGER.ref or ""}))
    for action in (Action.VERIFY, Action.REWORK):
        message = refused(MANAGER, action, handled)
        assert "您处理过此案件" in message and "you handled this case" in message
        assert may(B_POST, action, handled)  # another grid manager of the grid, on site
        assert may(COMMUNITY_STAFF, action, handled)
    by_community = case(handled_by=frozenset({COMMUNITY_STAFF.ref or ""}))
    assert "you handled this case" in refused(COMMUNITY_STAFF, Action.EVALUATE, by_community)
    assert "you handled this case" in refused(COMMUNITY_STAFF, Action.VERIFY, by_community)
    assert may(SUBDISTRICT_STAFF, Action.EVALUATE, by_community)
    by_admin = case(handled_by=frozenset({ADMIN.ref or ""}))
    assert not may(ADMIN, Action.VERIFY, by_admin)  # nobody is above this rule
    assert not may(ADMIN, Action.EVALUATE, by_admin)


def test_a_person_without_a_ref_is_never_taken_for_the_handler() -> None:
    """``handled_by`` holds refs; a principal without one matches nothing (and the rule
    on roles refuses a claimed name anyway)."""
    handled = case(handled_by=frozenset({"account:1"}))
    assert not may(CLAIMED, Action.VERIFY, handled)
    assert "only a logged-in member of staff" in refused(CLAIMED, Action.ACCEPT, case())


# ---------------------------------------------------------------- escalated cases


def test_an_escalated_case_is_acted_on_by_the_level_it_reached() -> None:
    at_community = case(Level.COMMUNITY, handler_staff_id=None)
    message = refused(MANAGER, Action.ACCEPT, at_community)
    assert "已升级至社区级" in message and "escalated to community level" in message
    for action in (Action.DISPATCH, Action.VERIFY, Action.ESCALATE, Action.CANCEL):
        assert not may(MANAGER, action, at_community)
        assert may(COMMUNITY_STAFF, action, at_community)
    at_subdistrict = case(Level.SUBDISTRICT, handler_staff_id=None)
    for action in (Action.REDISPATCH, Action.VERIFY, Action.ESCALATE):
        assert not may(COMMUNITY_STAFF, action, at_subdistrict)
        assert may(SUBDISTRICT_STAFF, action, at_subdistrict)
    at_district = case(Level.DISTRICT, handler_staff_id=None)
    assert not may(SUBDISTRICT_STAFF, Action.VERIFY, at_district)
    assert may(DISTRICT_STAFF, Action.VERIFY, at_district) and may(
        ADMIN, Action.VERIFY, at_district
    )


def test_whoever_a_case_is_redispatched_to_handles_it_at_any_level() -> None:
    redispatched = case(Level.SUBDISTRICT, handler_staff_id=MANAGER_STAFF)
    assert may(MANAGER, Action.HANDLE, redispatched)
    assert may(MANAGER, Action.FEEDBACK, redispatched)
    assert not may(MANAGER, Action.VERIFY, redispatched)
    assert not may(B_POST, Action.HANDLE, redispatched)  # not theirs any more


# ---------------------------------------------------------------- systems and others


@pytest.mark.parametrize("action", list(Action))
def test_a_key_takes_no_step(action: Action) -> None:
    message = refused(HOTLINE, action, case())
    assert "API" in message and "reports incidents and reads their status" in message


def test_the_escalation_sweep_may_escalate_and_nothing_else() -> None:
    assert may(SYSTEM, Action.ESCALATE, case())
    assert not may(SYSTEM, Action.VERIFY, case())
    assert not may(Principal.system("import:x.csv"), Action.ESCALATE, case())


def test_a_planner_sees_every_case_and_takes_no_step() -> None:
    assert reaches(PLANNER, case())
    assert allowed_for(PLANNER, case(), list(Action)) == []
    assert "a planner reads and plans" in refused(PLANNER, Action.ACCEPT, case())


def test_a_mediator_acts_on_the_disputes_of_their_area_at_grid_level() -> None:
    dispute = case(category="dispute", handler_staff_id=None)
    assert allowed_for(MEDIATOR, dispute, list(Action)) == [
        Action.ACCEPT,
        Action.HANDLE,
        Action.FEEDBACK,
        Action.SETTLE,
    ]
    assert "a mediator accepts, settles on the spot, handles" in refused(
        MEDIATOR, Action.VERIFY, dispute
    )
    assert not reaches(MEDIATOR, case(handler_staff_id=None))  # not a dispute
    assert not reaches(MEDIATOR, case(category="dispute", grid_code="370705001002001"))
    escalated = case(Level.COMMUNITY, category="dispute", handler_staff_id=None)
    assert not may(MEDIATOR, Action.ACCEPT, escalated)
    assert may(
        MEDIATOR, Action.HANDLE, case(Level.COMMUNITY, category="dispute", handler_staff_id=11)
    )


def test_merging_a_duplicate_is_for_those_who_may_cancel_it() -> None:
    check_merge(MANAGER, case())
    check_merge(COMMUNITY_STAFF, case())
    with pytest.raises(ForbiddenError, match="merge this duplicate") as caught:
        check_merge(MANAGER, case(Level.COMMUNITY))
    assert "合并重复案件" in caught.value.text(Lang.ZH)
    with pytest.raises(ForbiddenError, match="API"):
        check_merge(HOTLINE, case())
    with pytest.raises(NotFoundError):
        check_merge(NEIGHBOUR, case())


def test_allowed_for_keeps_the_order_it_is_given() -> None:
    steps = [Action.DISPATCH, Action.CANCEL, Action.ESCALATE]
    assert allowed_for(MANAGER, case(), steps) == [Action.CANCEL, Action.ESCALATE]
    assert allowed_for(COMMUNITY_STAFF, case(), steps) == steps
    assert allowed_for(NEIGHBOUR, case(), steps) == []


# ---- photos -----------------------------------------------------------------------------


def test_photos_follow_the_step_of_their_stage() -> None:
    grid = "370705001001001"
    case = CaseFacts(
        id=7,
        grid_code=grid,
        category="exposed_garbage",
        level=Level.GRID,
        handler_staff_id=5,
        handled_by=frozenset({"account:1"}),
    )
    manager = Principal("person", "张伟", Role.GRID_MANAGER, (grid,), ref="account:1", staff_id=5)
    community = Principal("person", "东苑", Role.COMMUNITY, ("370705001001",), ref="account:2")
    planner = Principal("person", "规划", Role.PLANNER, None, ref="account:3")
    other = Principal("person", "王芳", Role.GRID_MANAGER, ("370705001001002",), ref="account:4")
    check_photo(manager, PhotoStage.INTAKE, case, State.REPORTED)
    check_photo(manager, PhotoStage.HANDLING, case, State.DISPATCHED)
    check_photo(community, PhotoStage.VERIFICATION, case, State.FEEDBACK)
    with pytest.raises(ForbiddenError, match="verify"):
        check_photo(manager, PhotoStage.VERIFICATION, case, State.FEEDBACK)
    with pytest.raises(ConflictError, match="handling photos now"):
        check_photo(manager, PhotoStage.INTAKE, case, State.HANDLED)
    with pytest.raises(ForbiddenError):
        check_photo(planner, PhotoStage.INTAKE, case, State.REPORTED)
    with pytest.raises(ForbiddenError):
        check_photo(SYSTEM, PhotoStage.INTAKE, case, State.REPORTED)
    with pytest.raises(NotFoundError):
        check_photo(other, PhotoStage.INTAKE, case, State.REPORTED)
