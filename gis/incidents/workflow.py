"""The seven-step closed loop of a case (GB/T 30428.2 / CJJ/T 106), and escalation.

Every transition is a :class:`Transition` with actor, time and note; an action
the state does not allow raises :class:`TransitionNotAllowedError` (409) listing
those it does. Escalation up the four-level linkage (seed 004) changes the
owning level, not the step. The steps in ``docs/incidents.md``. Pure: no
database, no HTTP.

Two steps come from a mediation centre (seed 003, Kaifu's 社会矛盾调处中心):

- **交办** (``hand_over``): the case is handed to a responsible unit, to its head
  (一把手) by name, instead of dispatched to a member of staff: from accepted (or,
  to another unit, from dispatched) to dispatched, the clock starting as at
  dispatch. Which unit and head is ``transitions.py``'s (``gis.incidents.units``).
- **当场办结** (``settle``): settled on the spot, at registration, from reported or
  accepted straight to handled; the case is marked ``on_the_spot``. A step, not a
  flag on ``handle``: "settled during the visit it was registered in" would need a
  visit the model does not have, while a step says by itself who settled it and
  when, needs no dispatch (no deadline runs, so it is never late), and leaves
  feedback and verification (never by whoever settled it) to the loop as for any
  case. A rework sends the case back to dispatched and clears ``on_the_spot``: it
  was not settled after all. The on-the-spot rate (当场办结率) counts it
  (``stats.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from gis.areas.codes import Level
from gis.errors import ConflictError, InvalidParameterError


class State(StrEnum):
    """Where a case stands; ``step_zh`` is the step of the standard that produced it."""

    REPORTED = "reported"
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"
    DISPATCHED = "dispatched"
    HANDLED = "handled"
    FEEDBACK = "feedback"
    CLOSED = "closed"
    EVALUATED = "evaluated"

    @property
    def step_zh(self) -> str:
        return _STEP_ZH[self]

    @property
    def is_terminal(self) -> bool:
        """No action but (for CLOSED) evaluation follows; the case is no longer open."""
        return self in (State.CANCELLED, State.CLOSED, State.EVALUATED)


OPEN_STATES: tuple[str, ...] = tuple(s.value for s in State if not s.is_terminal)
"""The states of a case still in handling (not cancelled, closed or evaluated)."""

_STEP_ZH: Mapping[State, str] = {
    State.REPORTED: "信息收集",
    State.ACCEPTED: "案卷建立",
    State.CANCELLED: "作废",
    State.DISPATCHED: "任务派遣",
    State.HANDLED: "任务处理",
    State.FEEDBACK: "处理反馈",
    State.CLOSED: "核查结案",
    State.EVALUATED: "综合评价",
}


class Action(StrEnum):
    """What an actor does to a case."""

    ACCEPT = "accept"
    CANCEL = "cancel"
    DISPATCH = "dispatch"
    REDISPATCH = "redispatch"
    HANDLE = "handle"
    FEEDBACK = "feedback"
    VERIFY = "verify"
    REWORK = "rework"
    EVALUATE = "evaluate"
    ESCALATE = "escalate"
    URGE = "urge"
    HAND_OVER = "hand_over"
    SETTLE = "settle"

    @property
    def name_zh(self) -> str:
        return _ACTION_ZH[self]


_ACTION_ZH: Mapping[Action, str] = {
    Action.ACCEPT: "立案",
    Action.CANCEL: "作废",
    Action.DISPATCH: "派遣",
    Action.REDISPATCH: "改派",
    Action.HANDLE: "处理",
    Action.FEEDBACK: "反馈",
    Action.VERIFY: "核查结案",
    Action.REWORK: "返工",
    Action.EVALUATE: "评价",
    Action.ESCALATE: "上报升级",
    Action.URGE: "督办",
    Action.HAND_OVER: "交办",
    Action.SETTLE: "当场办结",
}


class Rating(StrEnum):
    """The outcome of an evaluation (综合评价) of a closed case."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"

    @property
    def name_zh(self) -> str:
        return _RATING_ZH[self]


_RATING_ZH: Mapping[Rating, str] = {
    Rating.SATISFIED: "满意",
    Rating.BASICALLY_SATISFIED: "基本满意",
    Rating.UNSATISFIED: "不满意",
}

#: (state, action) -> state after. Order within a state is the order ``allowed`` lists.
#: Escalation (by the sweep when a limit passes, or by hand) and urging (督办) leave the
#: step as it is, in every open state.
TRANSITIONS: Mapping[State, Mapping[Action, State]] = {
    State.REPORTED: {
        Action.ACCEPT: State.ACCEPTED,
        Action.CANCEL: State.CANCELLED,
        Action.SETTLE: State.HANDLED,
        Action.ESCALATE: State.REPORTED,
        Action.URGE: State.REPORTED,
    },
    State.ACCEPTED: {
        Action.DISPATCH: State.DISPATCHED,
        Action.CANCEL: State.CANCELLED,
        Action.HAND_OVER: State.DISPATCHED,
        Action.SETTLE: State.HANDLED,
        Action.ESCALATE: State.ACCEPTED,
        Action.URGE: State.ACCEPTED,
    },
    State.DISPATCHED: {
        Action.HANDLE: State.HANDLED,
        Action.REDISPATCH: State.DISPATCHED,
        Action.HAND_OVER: State.DISPATCHED,
        Action.ESCALATE: State.DISPATCHED,
        Action.URGE: State.DISPATCHED,
    },
    State.HANDLED: {
        Action.FEEDBACK: State.FEEDBACK,
        Action.ESCALATE: State.HANDLED,
        Action.URGE: State.HANDLED,
    },
    State.FEEDBACK: {
        Action.VERIFY: State.CLOSED,
        Action.REWORK: State.DISPATCHED,
        Action.ESCALATE: State.FEEDBACK,
        Action.URGE: State.FEEDBACK,
    },
    State.CLOSED: {Action.EVALUATE: State.EVALUATED},
    State.CANCELLED: {},
    State.EVALUATED: {},
}

#: Actions that must say why (a cancellation reason, what the rework is for, ...).
NOTE_REQUIRED: frozenset[Action] = frozenset(
    {Action.CANCEL, Action.REWORK, Action.REDISPATCH, Action.ESCALATE, Action.URGE}
)
#: Actions after which a (new) handling deadline runs; the caller supplies it.
CLOCK_STARTS: frozenset[Action] = frozenset(
    {Action.DISPATCH, Action.REDISPATCH, Action.HAND_OVER, Action.REWORK}
)
#: Actions after which the supervision clock (``supervise_due_at``) starts again.
SUPERVISION_RESTARTS: frozenset[Action] = CLOCK_STARTS | {Action.ESCALATE}
#: Actions that change nothing of the case but its history (its version stays, so the
#: handler's screen is not made stale by it).
HISTORY_ONLY: frozenset[Action] = frozenset({Action.URGE})
#: Actions that give the case a handler (a member of staff, or a unit's head).
ASSIGNS_HANDLER: frozenset[Action] = frozenset(
    {Action.DISPATCH, Action.REDISPATCH, Action.HAND_OVER}
)


_LEVEL_ORDER: tuple[Level, ...] = tuple(Level)


class TransitionNotAllowedError(ConflictError):
    """An action the case's current state does not allow; the message lists those it does."""

    def __init__(self, state: State, action: Action | str) -> None:
        self.state = state
        self.action = action
        self.allowed = allowed(state)
        listed = ", ".join(a.value for a in self.allowed) or "none (the case is finished)"
        listed_zh = "、".join(a.name_zh for a in self.allowed) or "无（案件已办结）"
        step = Action(action).name_zh if action in Action.__members__.values() else str(action)
        super().__init__(
            f"cannot {action!s} a case that is {state.value} ({state.step_zh}); "
            f"allowed actions: {listed}",
            zh=f"处于“{state.step_zh}”的案件不能{step}；可以进行：{listed_zh}",
        )


class EscalationLimitError(ConflictError):
    """A case already at district level cannot go higher."""


class NoteRequiredError(InvalidParameterError):
    """Cancelling, sending back, redispatching, escalating or urging without saying why."""


class RatingRequiredError(InvalidParameterError):
    """An evaluation without a rating, or a rating on another step."""


def check_rating(action: Action | str, rating: Rating | str | None) -> Rating | None:
    """The rating of a live step: required for ``evaluate`` (RatingRequiredError), refused
    on any other step. Imported past evaluations may lack one (``replay`` does not ask)."""
    if Action(action) is not Action.EVALUATE:
        if rating is not None:
            raise RatingRequiredError(f"only evaluate takes a rating, not {Action(action).value}")
        return None
    choices = ", ".join(f"{r.value} ({r.name_zh})" for r in Rating)
    if rating is None:
        raise RatingRequiredError(f"evaluate (综合评价) needs a rating: one of {choices}")
    try:
        return Rating(rating)
    except ValueError:
        raise RatingRequiredError(f"rating {rating!r} is not one of {choices}") from None


def allowed(state: State | str) -> list[Action]:
    """The actions a case in ``state`` accepts, in workflow order."""
    return list(TRANSITIONS[State(state)])


def next_state(state: State | str, action: Action | str) -> State:
    """The state ``action`` leads to from ``state``; raises TransitionNotAllowedError."""
    state = State(state)
    try:
        action = Action(action)
    except ValueError:
        raise TransitionNotAllowedError(state, action) from None
    after = TRANSITIONS[state].get(action)
    if after is None:
        raise TransitionNotAllowedError(state, action)
    return after


def escalate(level: Level | str, *, has_subdistrict: bool = True) -> Level:
    """The level above ``level``; skips the subdistrict where the district has none.

    Raises EscalationLimitError at district level, the top of the linkage.
    """
    level = Level(level)
    if level is Level.DISTRICT:
        raise EscalationLimitError(
            "the case is already at district level (区), the highest; it cannot be escalated",
            zh="案件已在区级（最高一级），不能再上报升级",
        )
    up = _LEVEL_ORDER[_LEVEL_ORDER.index(level) + 1]
    if up is Level.SUBDISTRICT and not has_subdistrict:
        up = Level.DISTRICT
    return up


ACTOR_REF_MAX = 40
"""Characters of a stored step's ``actor_ref`` (migration 0007): ``account:12``, ``key:3``,
``system``, ``import:<file name>`` (a long file name is cut)."""


def stored_ref(ref: str | None) -> str | None:
    """``ref`` as a step stores it (who took it, as an identity rather than a name)."""
    return None if ref is None else ref[:ACTOR_REF_MAX]


@dataclass(frozen=True)
class Transition:
    """One stored step of a case: who did what, when, and why (``at`` is timezone-aware)."""

    action: Action
    from_state: State
    to_state: State
    actor: str
    at: dt.datetime
    note: str = ""
    from_level: Level = Level.GRID
    to_level: Level = Level.GRID


@dataclass(frozen=True)
class CaseFlow:
    """A case's position in the loop: its step, rework count, owning level, whether it was
    settled on the spot (``settle``, until a rework) and its history."""

    state: State = State.REPORTED
    rework_count: int = 0
    level: Level = Level.GRID
    history: tuple[Transition, ...] = ()
    on_the_spot: bool = False

    def allowed(self) -> list[Action]:
        """Actions the case accepts now (escalation only below district level; urging at
        district level too)."""
        actions = allowed(self.state)
        if self.level is Level.DISTRICT:
            actions = [a for a in actions if a is not Action.ESCALATE]
        return actions


def apply(
    case: CaseFlow,
    action: Action | str,
    *,
    actor: str,
    at: dt.datetime,
    note: str = "",
    has_subdistrict: bool = True,
) -> CaseFlow:
    """The case after ``action`` by ``actor`` at ``at``, with the transition recorded.

    Refuses (TransitionNotAllowedError) an action the state does not allow,
    (NoteRequiredError) a cancel, rework, redispatch or escalation without a
    note, (InvalidParameterError) a naive time, a missing actor, or a time
    before the previous transition. Rework raises ``rework_count`` and clears
    ``on_the_spot``, which ``settle`` sets; escalation raises ``level``
    (EscalationLimitError at district).
    """
    after = next_state(case.state, action)
    action = Action(action)
    if not actor.strip():
        raise InvalidParameterError("every transition needs an actor (who did it)")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidParameterError(f"transition time {at.isoformat()} has no time zone")
    if case.history and at < case.history[-1].at:
        raise InvalidParameterError(
            f"transition time {at.isoformat()} is before the previous one "
            f"({case.history[-1].at.isoformat()})"
        )
    if action in NOTE_REQUIRED and not note.strip():
        raise NoteRequiredError(
            f"{action.value} ({action.name_zh}) needs a note saying why",
            zh=f"{action.name_zh}须填写说明，写明原因",
        )
    level = case.level
    if action is Action.ESCALATE:
        level = escalate(level, has_subdistrict=has_subdistrict)
    transition = Transition(
        action=action,
        from_state=case.state,
        to_state=after,
        actor=actor,
        at=at,
        note=note,
        from_level=case.level,
        to_level=level,
    )
    return replace(
        case,
        state=after,
        level=level,
        rework_count=case.rework_count + (action is Action.REWORK),
        history=(*case.history, transition),
        on_the_spot=(case.on_the_spot or action is Action.SETTLE) and action is not Action.REWORK,
    )


@dataclass(frozen=True)
class Step:
    """One step of a case's past: the workflow action, when (timezone-aware) and why."""

    action: Action
    at: dt.datetime
    note: str = ""


def replay(
    reported_at: dt.datetime, steps: Sequence[Step], *, actor: str, has_subdistrict: bool = True
) -> CaseFlow:
    """The case after ``steps``, each checked by :func:`apply`.

    Raises InvalidParameterError for a step before ``reported_at``, and the
    workflow's own errors (TransitionNotAllowedError, NoteRequiredError,
    InvalidParameterError for times out of order) for an illegal history.
    """
    if reported_at.tzinfo is None or reported_at.utcoffset() is None:
        raise InvalidParameterError(f"reported_at {reported_at.isoformat()} has no time zone")
    case = CaseFlow()
    for step in steps:
        if step.at < reported_at:
            raise InvalidParameterError(
                f"{step.action.value} at {step.at.isoformat()} is before reported_at "
                f"{reported_at.isoformat()}"
            )
        case = apply(
            case,
            step.action,
            actor=actor,
            at=step.at,
            note=step.note,
            has_subdistrict=has_subdistrict,
        )
    return case
