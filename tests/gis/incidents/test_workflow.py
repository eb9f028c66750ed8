"""The seven-step closed loop and escalation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gis.areas.codes import Level
from gis.errors import ConflictError, InvalidParameterError
from gis.incidents.workflow import (
    TRANSITIONS,
    Action,
    CaseFlow,
    EscalationLimitError,
    NoteRequiredError,
    State,
    TransitionNotAllowedError,
    allowed,
    apply,
    escalate,
    next_state,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2025, 11, 24, 9, 0, tzinfo=SH)


def run(*steps: tuple[Action, str], case: CaseFlow | None = None) -> CaseFlow:
    """Apply steps an hour apart, continuing after the case's last transition."""
    case = case or CaseFlow()
    start = case.history[-1].at + dt.timedelta(hours=1) if case.history else T0
    for i, (action, note) in enumerate(steps):
        case = apply(case, action, actor=f"user{i}", at=start + dt.timedelta(hours=i), note=note)
    return case


HAPPY = (
    (Action.ACCEPT, ""),
    (Action.DISPATCH, "to 城管中队"),
    (Action.HANDLE, ""),
    (Action.FEEDBACK, "cleared"),
    (Action.VERIFY, "checked on site"),
    (Action.EVALUATE, "satisfied"),
)


def test_happy_path_walks_the_seven_steps() -> None:
    case = run(*HAPPY)
    assert case.state is State.EVALUATED
    assert [t.to_state for t in case.history] == [
        State.ACCEPTED,
        State.DISPATCHED,
        State.HANDLED,
        State.FEEDBACK,
        State.CLOSED,
        State.EVALUATED,
    ]
    assert [s.step_zh for s in (State.REPORTED, *(t.to_state for t in case.history))] == [
        "信息收集",
        "案卷建立",
        "任务派遣",
        "任务处理",
        "处理反馈",
        "核查结案",
        "综合评价",
    ]
    first = case.history[0]
    assert (first.actor, first.at, first.from_state) == ("user0", T0, State.REPORTED)
    assert case.rework_count == 0
    assert allowed(case.state) == []


def test_allowed_actions_per_state() -> None:
    # escalation (the intake limit passed) and urging (督办) in every open state
    assert allowed(State.REPORTED) == [
        Action.ACCEPT,
        Action.CANCEL,
        Action.SETTLE,
        Action.ESCALATE,
        Action.URGE,
    ]
    assert allowed("feedback") == [Action.VERIFY, Action.REWORK, Action.ESCALATE, Action.URGE]
    assert allowed(State.CLOSED) == [Action.EVALUATE]
    assert allowed(State.CANCELLED) == []


def test_refused_transition_is_a_conflict_listing_allowed_actions() -> None:
    case = run((Action.ACCEPT, ""), (Action.DISPATCH, "x"))
    with pytest.raises(TransitionNotAllowedError) as info:
        apply(case, Action.VERIFY, actor="inspector", at=T0 + dt.timedelta(days=1))
    err = info.value
    assert isinstance(err, ConflictError)
    assert err.allowed == [
        Action.HANDLE,
        Action.REDISPATCH,
        Action.HAND_OVER,
        Action.ESCALATE,
        Action.URGE,
    ]
    assert "dispatched" in str(err) and "handle, redispatch, hand_over, escalate" in str(err)
    with pytest.raises(TransitionNotAllowedError, match="finished"):
        next_state(State.EVALUATED, Action.EVALUATE)
    with pytest.raises(TransitionNotAllowedError, match="accept, cancel"):
        next_state(State.REPORTED, "teleport")


def test_rework_returns_to_dispatched_and_counts() -> None:
    case = run(
        (Action.ACCEPT, ""),
        (Action.DISPATCH, "x"),
        (Action.HANDLE, ""),
        (Action.FEEDBACK, "done"),
        (Action.REWORK, "garbage still there"),
    )
    assert case.state is State.DISPATCHED
    assert case.rework_count == 1
    case = run(
        (Action.HANDLE, ""),
        (Action.FEEDBACK, "done now"),
        (Action.REWORK, "still not"),
        (Action.HANDLE, ""),
        (Action.FEEDBACK, "really done"),
        (Action.VERIFY, "ok"),
        case=case,
    )
    assert case.state is State.CLOSED
    assert case.rework_count == 2


def test_cancel_needs_a_reason() -> None:
    with pytest.raises(NoteRequiredError):
        run((Action.CANCEL, "  "))
    case = run((Action.CANCEL, "duplicate of case 123"))
    assert case.state is State.CANCELLED
    assert case.state.is_terminal
    assert case.history[-1].note == "duplicate of case 123"


def test_transition_checks_actor_and_time() -> None:
    with pytest.raises(InvalidParameterError, match="actor"):
        apply(CaseFlow(), Action.ACCEPT, actor=" ", at=T0)
    with pytest.raises(InvalidParameterError, match="time zone"):
        apply(CaseFlow(), Action.ACCEPT, actor="a", at=dt.datetime(2025, 1, 1))
    case = apply(CaseFlow(), Action.ACCEPT, actor="a", at=T0)
    with pytest.raises(InvalidParameterError, match="before the previous"):
        apply(case, Action.DISPATCH, actor="a", at=T0 - dt.timedelta(minutes=1), note="x")


def test_escalation_levels() -> None:
    assert escalate(Level.GRID) is Level.COMMUNITY
    assert escalate("community") is Level.SUBDISTRICT
    assert escalate(Level.SUBDISTRICT) is Level.DISTRICT
    assert escalate(Level.COMMUNITY, has_subdistrict=False) is Level.DISTRICT
    with pytest.raises(EscalationLimitError, match="district"):
        escalate(Level.DISTRICT)
    assert isinstance(EscalationLimitError("x"), ConflictError)


def test_escalating_a_case_keeps_its_step_and_records_levels() -> None:
    case = run((Action.ACCEPT, ""), (Action.DISPATCH, "x"))
    case = run((Action.ESCALATE, "overdue"), (Action.ESCALATE, "unsettled"), case=case)
    assert case.state is State.DISPATCHED
    assert case.level is Level.SUBDISTRICT
    last = case.history[-1]
    assert (last.from_level, last.to_level) == (Level.COMMUNITY, Level.SUBDISTRICT)
    case = run((Action.ESCALATE, "still unsettled"), case=case)
    assert case.level is Level.DISTRICT
    assert Action.ESCALATE not in case.allowed()
    with pytest.raises(EscalationLimitError):
        run((Action.ESCALATE, "again"), case=case)


def test_tongguanshan_skips_missing_subdistrict() -> None:
    case = run((Action.ACCEPT, ""), (Action.ESCALATE, "a"))
    case = apply(
        case,
        Action.ESCALATE,
        actor="x",
        at=T0 + dt.timedelta(days=1),
        note="b",
        has_subdistrict=False,
    )
    assert case.level is Level.DISTRICT


@given(st.lists(st.sampled_from(list(Action)), max_size=40))
def test_random_action_sequences_follow_the_table(actions: list[Action]) -> None:
    case = CaseFlow()
    for i, action in enumerate(actions):
        at = T0 + dt.timedelta(minutes=i)
        if action in case.allowed():
            before = case
            case = apply(case, action, actor="a", at=at, note="why")
            assert case.state is TRANSITIONS[before.state][action]
            assert len(case.history) == len(before.history) + 1
        else:
            with pytest.raises(ConflictError):
                apply(case, action, actor="a", at=at, note="why")
    assert case.rework_count == sum(t.action is Action.REWORK for t in case.history)
    assert case.rework_count <= sum(t.action is Action.FEEDBACK for t in case.history)


def test_every_state_is_reachable_and_table_is_complete() -> None:
    assert set(TRANSITIONS) == set(State)
    reachable = {State.REPORTED}
    frontier = [State.REPORTED]
    while frontier:
        for after in TRANSITIONS[frontier.pop()].values():
            if after not in reachable:
                reachable.add(after)
                frontier.append(after)
    assert reachable == set(State)
