"""Who may take which step of a case: the one home of the workflow's rules about people.

The state machine (``workflow.py``) says which steps a case accepts; this
module says who may take them. The rules are pure functions of a
:class:`~gis.principal.Principal` and a :class:`CaseFacts` (the case's grid,
category, owning level, handler and who handled it), checked by
``transitions.py`` against the row it has locked, so no caller (HTTP, the
command line, a script) can go round them.

**Reach.** A case outside the caller's area is answered as if it did not exist
(``NotFoundError``, 404): the reach of every read (``visibility.reaches``), so
a grid manager acts on the cases of their grids (B posts included), community,
subdistrict and district staff on those of their area, a mediator on the
disputes of their area.

**Systems** (API keys: the city hotline, apps) report and read; they never take
a step (``ForbiddenError``, 403). The program's own escalation sweep (scope
``incidents:escalate``) may escalate, and nothing else.

**Levels.** A case is acted on by the level it has reached (``handling_level``,
the four-level linkage): at grid level by the grid's manager and the community
above it; once escalated to community, subdistrict or district level by staff
of that level whose area holds the case. Each level also acts for the levels
below it in its area (it supervises them); district staff and admin act on
every case. A grid manager therefore loses a case when it is escalated, unless
it is dispatched to them again.

**Steps.**

============================  ============================================================
accept, cancel, escalate,     those acting at the case's level (at grid level: the
merge a duplicate             grid's manager, the community, ...)
settle (当场办结)             as accept: those acting at the case's level (and a
                              mediator on a grid-level dispute), at registration
dispatch, redispatch,         the community (within its grids) and the levels above,
hand_over (交办)              at or above the case's level
handle, feedback              the handler (``staff_id`` = ``handler_staff_id``: for a
                              case handed to a unit, its head) or a staff member of
                              the unit it was handed to (``unit_staff``), or those
                              acting at the case's level
verify (核查结案), rework     those acting at the case's level, never whoever handled the
                              case (a ``handle`` step with their ``ref``)
evaluate (综合评价)           the community and above, at or above the case's level,
                              never whoever handled it
urge (督办)                   a level above the case's level in whose area it lies: the
                              community over a grid-level case, the subdistrict over grid
                              and community level, district staff and admin over every
                              case, district-level ones included (the district command
                              centre urges the district's own departments; nobody is
                              above them); the urge of a case handed to a unit lands
                              in its head's inbox (the head is its handler)
============================  ============================================================

**Inboxes.** A case belongs in the inbox of those who act on it first
(:func:`in_inbox`): staff of the level it has reached, in their area (a grid
manager: their grids' grid-level cases), its handler (and the staff of the unit it
was handed to), the community for a
grid-level case waiting for dispatch (dispatch is the community's), and for a
closed case the lowest level that may evaluate it (the community for grid- and
community-level cases); higher levels supervise the rest through statistics and
urge where they see fit.

**Photos** (evidence at intake, handling and verification, before and after) follow
the steps they document: an intake photo while the case is reported or accepted, by a
person of a handling role who reaches it (a mediator: a dispute); a handling photo while
it is dispatched or handled, by those who may ``handle`` it; a verification photo while
its feedback waits or once closed, by those who may ``verify`` it (never whoever handled
it). Systems and planners add none (``check_photo``).

**Mediators** act like a grid manager on the disputes (``dispute`` and its
subclasses) of their area while at grid level: accept, settle on the spot,
handle, feedback; and handle the cases dispatched or handed to them. **Planners**
plan; they take no step.

A refusal (``ForbiddenError``, 403) says in Chinese and English why and what
the caller's role may do. Pure: no database, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from gis.areas.codes import Level
from gis.errors import ConflictError, ForbiddenError, NotFoundError
from gis.incidents import visibility
from gis.incidents.workflow import Action, State
from gis.principal import Principal, Role

ESCALATE_SCOPE = "incidents:escalate"
"""The scope of the program's own escalation sweep (``gis.principal.SYSTEM``)."""

_TIER: Mapping[Role, int] = {
    Role.GRID_MANAGER: 0,
    Role.COMMUNITY: 1,
    Role.SUBDISTRICT: 2,
    Role.DISTRICT: 3,
    Role.ADMIN: 3,
}
"""The level each handling role acts at, as the index of ``Level`` (grid 0 … district 3)."""
_LEVEL_TIER: Mapping[Level, int] = {level: i for i, level in enumerate(Level)}
_COMMUNITY = _LEVEL_TIER[Level.COMMUNITY]

_MEDIATOR_STEPS = frozenset({Action.ACCEPT, Action.SETTLE, Action.HANDLE, Action.FEEDBACK})
_COMMUNITY_STEPS = frozenset(
    {Action.DISPATCH, Action.REDISPATCH, Action.HAND_OVER, Action.EVALUATE}
)
"""Steps for the community and above only: the levels that dispatch also hand over (交办)."""
_COMMUNITY_STEP_ZH: Mapping[Action, str] = {
    Action.DISPATCH: "派遣和改派",
    Action.REDISPATCH: "派遣和改派",
    Action.HAND_OVER: "交办",
    Action.EVALUATE: "评价",
}
NOT_BY_HANDLER = frozenset({Action.VERIFY, Action.REWORK, Action.EVALUATE})
"""Steps whoever handled the case may not take (``CaseFacts.handled_by`` matters only here)."""
HANDLING_ACTIONS: tuple[str, ...] = (Action.HANDLE.value, Action.SETTLE.value)
"""Stored steps that handle a case (whoever took one "handled it")."""
_HANDLER_STEPS = frozenset({Action.HANDLE, Action.FEEDBACK})

_ROLE_MAY: Mapping[Role | None, tuple[str, str]] = {
    Role.GRID_MANAGER: (
        "网格员可在本网格网格级的案件上立案、作废、处理、反馈、核查、返工和上报，并处理派给自己的案件",
        "a grid manager accepts, cancels, handles, reports back on, verifies, sends back and "
        "escalates the cases of their own grids while at grid level, and handles cases "
        "dispatched to them",
    ),
    Role.COMMUNITY: (
        "社区可办理本社区网格级和社区级的案件，包括派遣和评价",
        "a community acts on the cases of its grids at grid and community level, dispatch and "
        "evaluation included",
    ),
    Role.SUBDISTRICT: (
        "街道可办理本街道已升级至街道级及以下的案件",
        "a subdistrict acts on the cases of its area up to subdistrict level",
    ),
    Role.DISTRICT: ("区级可办理全区各级案件", "district staff act on every case of the district"),
    Role.ADMIN: ("管理员可办理全区各级案件", "admin acts on every case of the district"),
    Role.MEDIATOR: (
        "调解员可对本辖区网格级的矛盾纠纷立案、当场办结、处理和反馈，并处理派给或交办给自己的案件",
        "a mediator accepts, settles on the spot, handles and reports back on the disputes of "
        "their area while at grid level, and handles cases dispatched or handed to them",
    ),
    Role.PLANNER: ("规划人员不办理案件", "a planner reads and plans, and takes no step of a case"),
    None: (
        "只有登录的工作人员可以办理案件",
        "only a logged-in member of staff with a role takes steps of a case",
    ),
}


@dataclass(frozen=True)
class CaseFacts:
    """What the rules look at: the case's ``id``, ``grid_code`` (None: outside every
    grid), ``category``, owning ``level``, ``handler_staff_id``, ``handled_by``, the
    ``ref`` of everyone who took a ``handle`` or ``settle`` step of it, and
    ``unit_staff``, the staff ids of the unit it was handed to (head and members)."""

    id: int
    grid_code: str | None
    category: str
    level: Level
    handler_staff_id: int | None = None
    handled_by: frozenset[str] = frozenset()
    unit_staff: frozenset[int] = frozenset()

    def handled_by_staff(self, staff_id: int | None) -> bool:
        """Whether ``staff_id`` is the case's handler or one of its unit's staff."""
        if staff_id is None:
            return False
        return staff_id == self.handler_staff_id or staff_id in self.unit_staff


def reaches(principal: Principal, case: CaseFacts) -> bool:
    """Whether ``principal`` may see the case at all: the reach of every read."""
    return visibility.reaches(principal, case.grid_code, case.category)


def _acts_at_level(principal: Principal, case: CaseFacts) -> bool:
    """A handling role at or above the level the case has reached (its area is checked by
    ``reaches``: a grid manager only reaches the cases of their own grids)."""
    tier = _TIER.get(principal.role) if principal.role is not None else None
    return tier is not None and tier >= _LEVEL_TIER[case.level]


def _urge_refusal(principal: Principal, case: CaseFacts) -> tuple[str, str] | None:
    """Why ``principal`` may not urge (督办) the case, or None: a level above the case's."""
    role = principal.role
    if role in (Role.DISTRICT, Role.ADMIN):
        return None
    tier = _TIER.get(role) if role is not None else None
    if tier is None:
        return ("您的角色不督办案件", "your role does not urge cases")
    if tier > _LEVEL_TIER[case.level]:
        return None
    return (
        f"督办由{case.level.name_zh}级以上的上级进行",
        f"a case at {case.level.value} level is urged by a level above it",
    )


def _refusal(principal: Principal, action: Action, case: CaseFacts) -> tuple[str, str] | None:
    """Why ``principal`` may not take ``action`` on a case it reaches (Chinese, English), or
    None when it may."""
    if principal.kind == "system":
        if action is Action.ESCALATE and principal.has_scope(ESCALATE_SCOPE):
            return None
        return (
            "系统（API 密钥）只能上报和查询案件，不能办理",
            "a system (an API key) reports incidents and reads their status; a person "
            "logged in takes the steps",
        )
    if action is Action.URGE:
        return _urge_refusal(principal, case)
    role = principal.role
    if action in _HANDLER_STEPS and case.handled_by_staff(principal.staff_id):
        return None
    if role is Role.MEDIATOR:
        if action in _MEDIATOR_STEPS and case.level is Level.GRID:
            return None
        if case.level is not Level.GRID:
            return _escalated(case.level)
        return ("调解员不能执行此步骤", "a mediator does not take this step")
    if role is None or role not in _TIER:
        return ("您的角色不办理案件", "your role takes no step of a case")
    if not _acts_at_level(principal, case):
        return _escalated(case.level)
    if action in _COMMUNITY_STEPS and _TIER[role] < _COMMUNITY:
        return (
            f"{_COMMUNITY_STEP_ZH[action]}由社区及以上负责",
            f"{action.value} is for the community and the levels above",
        )
    if action in NOT_BY_HANDLER and principal.ref is not None and principal.ref in case.handled_by:
        return (
            f"您处理过此案件，{action.name_zh}须由他人进行",
            f"you handled this case, so someone else must {action.value} it",
        )
    return None


def _escalated(level: Level) -> tuple[str, str]:
    return (
        f"此案件已升级至{level.name_zh}级，由{level.name_zh}级及以上办理",
        f"the case has been escalated to {level.value} level and is acted on by that level now",
    )


def may(principal: Principal, action: Action | str, case: CaseFacts) -> bool:
    """Whether ``principal`` may take ``action`` on the case (in any state: whether the
    state allows it is the workflow's question)."""
    return reaches(principal, case) and _refusal(principal, Action(action), case) is None


def allowed_for(principal: Principal, case: CaseFacts, actions: Iterable[Action]) -> list[Action]:
    """Those of ``actions`` (say, what the case's state allows) that ``principal`` may take,
    in their order: the buttons a page offers."""
    if not reaches(principal, case):
        return []
    return [a for a in actions if _refusal(principal, a, case) is None]


def inbox_tier(principal: Principal) -> int | None:
    """The level (index of ``Level``) whose cases land in ``principal``'s inbox: a mediator's
    is grid level (the disputes of their area); None for those without an inbox."""
    if principal.kind != "person" or principal.role is None:
        return None
    if principal.role is Role.MEDIATOR:
        return 0
    return _TIER.get(principal.role)


def in_inbox(principal: Principal, case: CaseFacts, state: str) -> bool:
    """Whether the case (in ``state``) is in ``principal``'s inbox: they act on it first
    (module docstring, **Inboxes**). Whether they may take a step now is
    :func:`allowed_for`'s question; the inbox asks both."""
    tier = inbox_tier(principal)
    if tier is None or not reaches(principal, case):
        return False
    if case.handled_by_staff(principal.staff_id):
        return True
    level = _LEVEL_TIER[case.level]
    if state == "closed":
        return principal.role is not Role.MEDIATOR and tier == max(level, _COMMUNITY)
    if tier == level:
        return True
    return state == "accepted" and level == 0 and tier == _COMMUNITY


def check_reach(principal: Principal, case: CaseFacts) -> None:
    """NotFoundError, worded as for a missing id, when the case is out of reach."""
    if not reaches(principal, case):
        raise NotFoundError(f"no incident has id {case.id}", zh=f"没有编号为 {case.id} 的案件")


def check_step(principal: Principal, action: Action | str, case: CaseFacts) -> None:
    """Refuse ``principal`` taking ``action``: NotFoundError (404) for a case out of reach,
    ForbiddenError (403) saying why and what their role may do."""
    check_reach(principal, case)
    action = Action(action)
    refusal = _refusal(principal, action, case)
    if refusal is not None:
        raise _forbidden(principal, (action.name_zh, action.value), refusal)


def check_merge(principal: Principal, case: CaseFacts) -> None:
    """Merging a duplicate cancels it: those who may cancel it may merge it."""
    check_reach(principal, case)
    refusal = _refusal(principal, Action.CANCEL, case)
    if refusal is not None:
        raise _forbidden(principal, ("合并重复案件", "merge this duplicate"), refusal)


def _forbidden(
    principal: Principal, step: tuple[str, str], refusal: tuple[str, str]
) -> ForbiddenError:
    step_zh, step_en = step
    why_zh, why_en = refusal
    if principal.kind == "system":
        return ForbiddenError(f"you may not {step_en}: {why_en}", zh=f"无权{step_zh}：{why_zh}")
    role_zh, role_en = _ROLE_MAY[principal.role]
    return ForbiddenError(
        f"you may not {step_en}: {why_en}; {role_en}", zh=f"无权{step_zh}：{why_zh}；{role_zh}"
    )


# ---- photos ------------------------------------------------------------------------------


class PhotoStage(StrEnum):
    """When an evidence photo was taken: at intake, while handling, at verification."""

    INTAKE = "intake"
    HANDLING = "handling"
    VERIFICATION = "verification"

    @property
    def name_zh(self) -> str:
        return {"intake": "受理", "handling": "处置", "verification": "核查"}[self.value]


PHOTO_STAGES: Mapping[PhotoStage, tuple[frozenset[State], Action | None]] = {
    PhotoStage.INTAKE: (frozenset({State.REPORTED, State.ACCEPTED}), None),
    PhotoStage.HANDLING: (frozenset({State.DISPATCHED, State.HANDLED}), Action.HANDLE),
    PhotoStage.VERIFICATION: (frozenset({State.FEEDBACK, State.CLOSED}), Action.VERIFY),
}
"""Per stage: the states in which its photos are added, and the step whose takers add them
(None: anyone of a handling role who reaches the case)."""


class PhotoStageClosedError(ConflictError):
    """A photo of a stage the case is not at (409), saying which stage it takes now."""


def check_photo(principal: Principal, stage: PhotoStage, case: CaseFacts, state: State) -> None:
    """Refuse ``principal`` adding a photo of ``stage`` to the case in ``state``:
    NotFoundError (404) out of reach, ForbiddenError (403) for who they are,
    PhotoStageClosedError (409) when the case is not at that stage. ``case.handled_by``
    must be filled for a verification photo."""
    check_reach(principal, case)
    states, step = PHOTO_STAGES[stage]
    what = (f"添加{stage.name_zh}照片", f"add a {stage.value} photo")
    if step is not None:
        refusal = _refusal(principal, step, case)
    elif principal.kind == "system":
        refusal = _refusal(principal, Action.ACCEPT, case)
    elif principal.role is Role.MEDIATOR or principal.role in _TIER:
        refusal = None
    else:
        refusal = ("您的角色不办理案件", "your role takes no step of a case")
    if refusal is not None:
        raise _forbidden(principal, what, refusal)
    if state not in states:
        now = [s for s, (at, _) in PHOTO_STAGES.items() if state in at]
        instead = f"; it takes {now[0].value} photos now" if now else "; it takes no more photos"
        raise PhotoStageClosedError(
            f"案件处于{state.step_zh}阶段，不能{what[0]} (case {case.id} is {state.value}, so "
            f"it takes no {stage.value} photos{instead}: intake photos while reported or "
            "accepted, handling while dispatched or handled, verification at feedback or "
            "once closed)"
        )
