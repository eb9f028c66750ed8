"""What a participation item is, the steps of its status, and how a status may move.

Futian's micro-projects (民生微实事, seed 000) are proposed, discussed and decided
by residents (居民提、居民议、居民决), then carried out and evaluated; Kuiwen's
"由民做主" items (seed 004) and the matters a resident council (居民议事会) takes
up follow the same steps. An item moves forward one step at a time; before it
is carried out it may end instead: ``rejected`` (the residents decided against
it, at the discussion or the decision) or ``withdrawn`` (its proposers took it
back). Ended and evaluated items move no more. Pure: no database.
"""

from __future__ import annotations

import datetime as dt
import itertools

from gis.db.models import PARTICIPATION_ENDS, PARTICIPATION_KINDS, PARTICIPATION_STEPS
from gis.errors import ConflictError, InvalidParameterError
from gis.lang import Texts

KINDS: dict[str, Texts] = {
    "micro_project": Texts("民生微实事", "micro-project"),
    "people_decide": Texts("由民做主", "residents decide"),
    "council_matter": Texts("议事会议题", "council matter"),
}
assert tuple(KINDS) == PARTICIPATION_KINDS, "gis.db.models.PARTICIPATION_KINDS and these differ"

STEPS: dict[str, Texts] = {
    "proposed": Texts("居民提议", "proposed"),
    "discussed": Texts("居民议事", "discussed"),
    "decided": Texts("居民决定", "decided"),
    "carried_out": Texts("已实施", "carried out"),
    "evaluated": Texts("已评议", "evaluated"),
}
assert tuple(STEPS) == PARTICIPATION_STEPS, "gis.db.models.PARTICIPATION_STEPS and these differ"

ENDS: dict[str, Texts] = {
    "rejected": Texts("未通过", "rejected"),
    "withdrawn": Texts("已撤回", "withdrawn"),
}
assert tuple(ENDS) == PARTICIPATION_ENDS, "gis.db.models.PARTICIPATION_ENDS and these differ"

STATUSES: dict[str, Texts] = {**STEPS, **ENDS}
"""Every status, the five steps in order first."""

DATE_COLUMN = {step: f"{step}_on" for step in STEPS} | {end: "ended_on" for end in ENDS}
"""The column holding the date a status was reached."""

ENDS_FROM: dict[str, tuple[str, ...]] = {
    "rejected": ("proposed", "discussed", "decided"),
    "withdrawn": ("proposed", "discussed", "decided"),
}
"""From which steps an item may end early (never once carried out)."""


def check_kind(code: str) -> str:
    if code not in KINDS:
        known = ", ".join(KINDS)
        raise InvalidParameterError(
            f"unknown kind {code!r}: use one of {known}",
            zh=f"未知的事项类型 {code!r}：请使用 {known} 之一",
        )
    return code


def check_status(code: str) -> str:
    if code not in STATUSES:
        known = ", ".join(STATUSES)
        raise InvalidParameterError(
            f"unknown status {code!r}: use one of {known}",
            zh=f"未知的状态 {code!r}：请使用 {known} 之一",
        )
    return code


def next_step(status: str) -> str | None:
    """The step after ``status`` (None after evaluated or an early end)."""
    steps = list(STEPS)
    if status not in STEPS or status == steps[-1]:
        return None
    return steps[steps.index(status) + 1]


def allowed_moves(status: str) -> tuple[str, ...]:
    """Where an item at ``status`` may go next: the next step, and the early ends."""
    following = next_step(status)
    ends = tuple(end for end, froms in ENDS_FROM.items() if status in froms)
    return ((following,) if following else ()) + ends


class StepNotAllowedError(ConflictError):
    """A move the steps do not allow (skipping a step, going back, moving an ended item)."""

    def __init__(self, ident: int, status: str, to: str) -> None:
        self.status = status
        self.allowed = allowed_moves(status)
        allowed = ", ".join(self.allowed) or "none: it has ended"
        allowed_zh = "、".join(STATUSES[a].zh for a in self.allowed) or "无（已结束）"
        super().__init__(
            f"item {ident} is {status}: it cannot move to {to} (allowed next: {allowed}); "
            "an item moves forward one step at a time",
            zh=f"事项 {ident} 当前为“{STATUSES[status].zh}”，不能改为“{STATUSES[to].zh}”"
            f"（下一步可为：{allowed_zh}）；事项须逐步推进",
        )


def check_move(ident: int, status: str, to: str) -> None:
    """Nothing if ``status`` → ``to`` is allowed, else StepNotAllowedError."""
    check_status(to)
    if to not in allowed_moves(status):
        raise StepNotAllowedError(ident, status, to)


def reached(status: str) -> tuple[str, ...]:
    """The steps an item at ``status`` has reached, in order (an early end: unknown here,
    so only ``proposed``; its dates say how far it went)."""
    if status in STEPS:
        steps = list(STEPS)
        return tuple(steps[: steps.index(status) + 1])
    return ("proposed",)


def check_dates(status: str, dates: dict[str, dt.date | None]) -> dict[str, dt.date | None]:
    """The date columns (``DATE_COLUMN`` values) of an item at ``status``, checked: the
    steps reached have dates, in order, and the others none; an early end has ``ended_on``
    and was never carried out. InvalidParameterError naming what is wrong otherwise."""
    check_status(status)
    columns = [DATE_COLUMN[s] for s in STEPS]
    out: dict[str, dt.date | None] = {c: dates.get(c) for c in [*columns, "ended_on"]}
    if status in STEPS:
        upto = columns.index(DATE_COLUMN[status]) + 1
        need, empty = columns[:upto], [*columns[upto:], "ended_on"]
    else:
        reached_steps = [c for c in columns[:3] if out[c] is not None]
        need = [*columns[: max(len(reached_steps), 1)], "ended_on"]
        empty = columns[3:]
    missing = [c for c in need if out[c] is None]
    if missing:
        raise InvalidParameterError(
            f"status {status} needs the date of every step reached: {', '.join(missing)}",
            zh=f"状态“{STATUSES[status].zh}”须填写已到达各步骤的日期：{'、'.join(missing)}",
        )
    extra = [c for c in empty if out[c] is not None]
    if extra:
        raise InvalidParameterError(
            f"status {status} has not reached {', '.join(extra)}: leave those dates empty",
            zh=f"状态“{STATUSES[status].zh}”尚未到达 {'、'.join(extra)}：这些日期应留空",
        )
    given = [(c, out[c]) for c in [*columns, "ended_on"] if out[c] is not None]
    for (a, day_a), (b, day_b) in itertools.pairwise(given):
        assert day_a is not None and day_b is not None
        if day_b < day_a:
            raise InvalidParameterError(
                f"{b} ({day_b}) lies before {a} ({day_a}): the steps' dates run in order",
                zh=f"{b}（{day_b}）早于 {a}（{day_a}）：各步骤日期须按顺序",
            )
    return out
