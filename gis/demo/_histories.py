"""Every demo incident's steps through the closed loop of ``gis.incidents.workflow``.

The rules (transitions, escalation, deadlines) are the live ones; only the
arithmetic runs on a working-time lattice, for all cases at once, because a
``WorkCalendar`` call per case and step would make the histories the slowest
part of the demo.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gis.areas.codes import Level
from gis.demo.spec import (
    DEMO_AS_OF,
    DISTRICT_CODE,
    INCIDENT_START,
)
from gis.errors import InvalidParameterError
from gis.incidents.deadlines import deadline_after, runs_in_working_time
from gis.incidents.workcalendar import WorkCalendar, default_calendar
from gis.incidents.workflow import TRANSITIONS
from gis.incidents.workflow import escalate as escalate_level
from gis.localtime import CITY_TZ

#: Share of closed cases that come back from verification for rework at least once, and of
#: those a second time (the monthly rework rate of a city runs at a few per cent).
REWORK_SHARE = 0.065
SECOND_REWORK_SHARE = 0.12
#: Share of closed cases that are evaluated (综合评价, e.g. a satisfaction call) by the end.
EVALUATED_SHARE = 0.4
#: Mean share of cases closed by their deadline; grids and communities spread around it.
ON_TIME_SHARE = 0.86
#: The deadline-escalation job runs every this many seconds (escalations land on its ticks).
ESCALATION_TICK_S = 600
#: Who takes the steps that are not a grid's: the command centre's desks and the system.
INTAKE_ACTORS = {
    "video": "视频巡查",
    "hotline": "12345热线",
    "app": "随手拍",
    "visit": "社区接待窗口",
}
CENTRE_ACCEPT = "指挥中心受理员"
CENTRE_DISPATCH = "指挥中心派遣员"
CENTRE_VERIFY = "指挥中心核查员"
EVALUATOR = "综合评价回访"
SYSTEM_ACTOR = "system"
_CANCEL_NOTES = ("重复上报", "不属于受理范围", "信息不全，无法核实")
_REWORK_NOTES = ("处置不彻底，需返工", "现场核查未达标", "群众反映问题仍在")
#: Category effects on the log-odds of finishing on time (tight limits are missed more often).
_ON_TIME_LOGIT_SHIFT = {"street_order": -0.5, "emergency": 0.6, "petition": 0.4, "dispute": -0.2}
#: What a step records besides its case and time: the columns of ``incident_transition``.
TRANSITION_COLUMNS = ("action", "from_state", "to_state", "actor", "note", "from_level", "to_level")
#: (state, action) -> state after, from gis.incidents.workflow's table (plain strings, for speed).
_NEXT = {(s.value, a.value): t.value for s, steps in TRANSITIONS.items() for a, t in steps.items()}


@dataclass(frozen=True)
class _WorkingClock:
    """Working time as a number: ``seconds(t)`` is the working seconds since ``origin``.

    A minute lattice over whole days (``working[k]`` is 1 where minute ``k`` lies
    in office hours of a working day; ``cum[k]`` the working seconds before it).
    Office hours start and end on whole minutes, so the working time is exact
    at any second, and ``instant(w)`` (the earliest moment with ``w`` working
    seconds behind it) is ``WorkCalendar.add_working_time`` for any positive
    amount. Times are integer epoch seconds; the zone must keep one UTC offset
    (Asia/Shanghai has no daylight saving time).
    """

    origin: int
    working: NDArray[np.int64]
    cum: NDArray[np.int64]

    @classmethod
    def build(cls, first_day: dt.date, days: int, calendar: WorkCalendar) -> _WorkingClock:
        tz = calendar.tz
        offsets = {
            dt.datetime.combine(first_day + dt.timedelta(days=d), dt.time(0), tz).utcoffset()
            for d in range(0, days, 30)
        }
        if len(offsets) != 1:
            raise InvalidParameterError(f"{calendar.timezone} changes its UTC offset")
        day_mask = np.zeros(24 * 60, dtype=np.int64)
        for start, end in calendar.office_hours:
            if start.second or end.second:
                raise InvalidParameterError("office hours must start and end on whole minutes")
            day_mask[start.hour * 60 + start.minute : end.hour * 60 + end.minute] = 1
        flags = np.array(
            [calendar.is_working_day(first_day + dt.timedelta(days=d)) for d in range(days)],
            dtype=np.int64,
        )
        working = (flags[:, None] * day_mask[None, :]).ravel()
        cum = np.concatenate([[0], np.cumsum(working * 60)])
        origin = int(dt.datetime.combine(first_day, dt.time(0), tz).timestamp())
        return cls(origin, working, cum)

    def seconds(self, t: NDArray[np.int64]) -> NDArray[np.int64]:
        """Working seconds from ``origin`` to each epoch second ``t``."""
        rel = np.asarray(t, dtype=np.int64) - self.origin
        k = rel // 60
        if (k < 0).any() or (k >= len(self.working)).any():
            raise InvalidParameterError("a time lies outside the demo's working-time lattice")
        return self.cum[k] + self.working[k] * (rel - 60 * k)

    def instant(self, w: NDArray[np.int64]) -> NDArray[np.int64]:
        """The earliest epoch second with ``w`` (> 0) working seconds since ``origin``."""
        w = np.asarray(w, dtype=np.int64)
        k = np.searchsorted(self.cum, w, side="left")
        if (w <= 0).any() or (k >= len(self.cum)).any():
            raise InvalidParameterError("a working time lies outside the demo's lattice")
        return self.origin + 60 * (k - 1) + (w - self.cum[k - 1])


def _after(
    work: _WorkingClock,
    on_calendar: NDArray[np.bool_],
    t: NDArray[np.int64],
    amount: NDArray[np.int64] | int,
) -> NDArray[np.int64]:
    """``amount`` seconds after epoch seconds ``t``: of calendar time where ``on_calendar``,
    of working time elsewhere (``WorkCalendar.add_working_time``)."""
    t = np.asarray(t, dtype=np.int64)
    out = t + amount
    w = ~np.asarray(on_calendar, dtype=bool)
    out[w] = work.instant(work.seconds(t[w]) + np.broadcast_to(amount, t.shape)[w])
    return out


def _lognormal_s(
    rng: np.random.Generator, median_s: float, sigma: float, n: int, lo: float, hi: float
) -> NDArray[np.int64]:
    """Whole seconds, log-normal around ``median_s``, clipped to [lo, hi]."""
    x = median_s * np.exp(sigma * rng.standard_normal(n))
    return np.rint(np.clip(x, lo, hi)).astype(np.int64)


def _logistic(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-x))


def _allowance_s(code: str, calendar: WorkCalendar) -> tuple[int, bool]:
    """A category's time limit in seconds of its clock, and whether that clock is the calendar.

    Measured on the live rule (``deadline_after`` from the demo's first moment), so
    that the lattice grants a case exactly what the live code would.
    """
    start = dt.datetime.combine(INCIDENT_START, dt.time(0), calendar.tz)
    due = deadline_after(code, start, calendar)
    if runs_in_working_time(code):
        return round(calendar.working_time_between(start, due).total_seconds()), False
    return round((due - start).total_seconds()), True


def _first(event: tuple[int, str, int]) -> int:
    return event[0]


def _actor(action: str, level: Level, manager: str, area_names: Sequence[str]) -> str:
    """Who takes a step: the command centre's desks, or whoever owns the case at its level."""
    if action in ("accept", "cancel"):
        return CENTRE_ACCEPT
    if action == "dispatch":
        return CENTRE_DISPATCH
    if action in ("verify", "rework"):
        return CENTRE_VERIFY
    if action == "evaluate":
        return EVALUATOR
    return manager if level is Level.GRID else area_names[list(Level).index(level) - 1]


def make_histories(
    incidents: pd.DataFrame,
    grids: pd.DataFrame,
    staff: pd.DataFrame,
    staff_grids: pd.DataFrame,
    area_names: dict[str, str],
    seed: int,
    calendar: WorkCalendar | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every incident's steps through the closed loop of ``gis.incidents.workflow``, to its status.

    Returns (incidents with the workflow columns, their transitions in the
    order they happened). The command centre accepts and dispatches within
    minutes to hours of working time (emergencies around the clock). Handling
    ends before the deadline with a probability that differs by community and
    grid (about 60-98 %, lower for the 2-hour street-order limit); late cases
    run 10-200 % over it and are escalated by ``system`` at the first tick of
    the escalation job after the deadline, one level per missed deadline, as
    ``gis.incidents.escalation.escalate_overdue`` does (the case then has no handler).
    About ``REWORK_SHARE`` of closed cases are sent back (a new deadline each
    time) and ``EVALUATED_SHARE`` are evaluated, which makes their status
    ``evaluated``; every other status stays as generated. Nothing happens
    after ``DEMO_AS_OF``: a case whose status needs steps that office hours
    left no room for (reported on the last weekend) was taken by the duty
    officers in calendar time. Draws from its own random stream ``(seed, 4)``,
    so everything else the demo generates is the same as without histories.
    """
    calendar = calendar or default_calendar()
    rng = np.random.default_rng((seed, 4))
    n = len(incidents)
    as_of = int(DEMO_AS_OF.timestamp())
    work = _WorkingClock.build(INCIDENT_START, 3 * 366, calendar)
    reported = np.array([int(t.timestamp()) for t in incidents["reported_at"]], dtype=np.int64)
    status = incidents["status"].to_numpy(dtype=object)
    category = incidents["category"].to_numpy(dtype=object)

    # Per grid, plus a last row for an incident outside every grid.
    n_grids = len(grids)
    g_index = {code: k for k, code in enumerate(grids["code"])}
    gi = np.array([g_index.get(c, n_grids) for c in incidents["grid_code"]], dtype=np.int64)
    comm = np.append(grids["community_code"].to_numpy(dtype=object), "")
    sub = np.append(grids["subdistrict_code"].fillna("").to_numpy(dtype=object), "")
    comm_k = pd.factorize(comm)[0]
    role = staff.set_index("staff_key")["role"]
    person = staff.set_index("staff_key")["name"]
    primary = staff_grids[
        staff_grids["is_primary"].astype(bool)
        & staff_grids["staff_key"].map(role).eq("grid_manager")
    ]
    first = primary.groupby("grid_code")["staff_key"].min().reindex(grids["code"])
    manager_key = [k if isinstance(k, str) else None for k in first] + [None]
    manager_name = [person.get(k, "网格员") if k is not None else "网格员" for k in manager_key]
    has_subdistrict = sub != ""

    # How well each grid keeps its deadlines, and how often its work is sent back.
    grid_logit = (
        math.log(ON_TIME_SHARE / (1 - ON_TIME_SHARE))
        + rng.normal(0.0, 0.55, comm_k.max() + 1)[comm_k]
        + rng.normal(0.0, 0.45, n_grids + 1)
    )
    rework_factor = np.exp(rng.normal(0.0, 0.5, n_grids + 1))
    shift = np.array([_ON_TIME_LOGIT_SHIFT.get(c, 0.0) for c in category])
    p_on_time = _logistic(grid_logit[gi] + shift)

    # Intake to dispatch: the command centre's office hours (emergencies on the calendar).
    emergency = category == "emergency"
    accept_s = np.where(
        emergency,
        _lognormal_s(rng, 300, 0.8, n, 30, 3600),
        _lognormal_s(rng, 1500, 1.0, n, 60, 6 * 3600),
    )
    dispatch_s = np.where(
        emergency,
        _lognormal_s(rng, 300, 0.8, n, 30, 3600),
        _lognormal_s(rng, 1200, 1.0, n, 60, 4 * 3600),
    )
    accepted_at = _after(work, emergency, reported, accept_s)
    dispatched_at = _after(work, emergency, accepted_at, dispatch_s)
    cancel_late = rng.random(n) < 0.3
    cancel_s = _lognormal_s(rng, 1800, 1.0, n, 60, 6 * 3600)
    cancelled_at = np.where(
        cancel_late, _after(work, emergency, accepted_at, cancel_s), accepted_at
    )
    cancel_note = rng.integers(0, len(_CANCEL_NOTES), n)
    rework_note = rng.integers(0, len(_REWORK_NOTES), n)

    # Handling rounds on the category's clock: dispatch, then one more per rework.
    limits = {c: _allowance_s(c, calendar) for c in dict.fromkeys(category)}
    allowance = np.array([limits[c][0] for c in category], dtype=np.int64)
    on_calendar = np.array([limits[c][1] for c in category], dtype=bool)
    closed = np.isin(status, ["closed", "evaluated"])
    handling = closed | (status == "dispatched")
    reworks = np.where(
        closed & (rng.random(n) < REWORK_SHARE * rework_factor[gi]),
        1 + (rng.random(n) < SECOND_REWORK_SHARE),
        0,
    )
    rounds = 3
    starts, handled, feedback, ends, deadlines = (np.full((rounds, n), -1) for _ in range(5))
    start = np.where(handling, dispatched_at, -1)
    for c in range(rounds):
        late = rng.random(n) >= p_on_time
        part = np.where(
            late,
            1.0 + np.clip(0.35 * np.exp(0.9 * rng.standard_normal(n)), 0.1, 2.0),
            0.05 + 0.9 * rng.beta(2.0, 2.0, n),
        )
        took = np.maximum(600, np.rint(allowance * part)).astype(np.int64)
        h1 = rng.uniform(0.55, 0.8, n)
        h2 = h1 + (1 - h1) * rng.uniform(0.2, 0.6, n)
        act = np.flatnonzero(start >= 0)
        starts[c, act] = start[act]
        deadlines[c, act] = _after(work, on_calendar[act], start[act], allowance[act])
        runs = act[closed[act]]  # a "dispatched" case stays in its first round
        for arr, share in ((handled, h1[runs]), (feedback, h2[runs]), (ends, 1.0)):
            step = np.rint(took[runs] * share).astype(np.int64)
            arr[c, runs] = _after(work, on_calendar[runs], start[runs], step)
        start = np.full(n, -1)
        again = runs[c < reworks[runs]]
        start[again] = ends[c, again]
    verified_at = np.where(closed, ends[reworks, np.arange(n)], -1)
    evaluate = closed & (rng.random(n) < EVALUATED_SHARE)
    evaluated_at = np.full(n, -1)
    evaluated_at[evaluate] = work.instant(
        work.seconds(verified_at[evaluate])
        + _lognormal_s(rng, 27000, 0.7, n, 1800, 10 * 27000)[evaluate]
    )
    evaluate &= evaluated_at < as_of

    # Cases whose status office hours left no room for before DEMO_AS_OF: the duty officers'.
    needed = np.select(
        [status == "accepted", status == "cancelled", status == "dispatched", closed],
        [accepted_at, cancelled_at, dispatched_at, verified_at],
        default=reported,
    )
    duty = np.flatnonzero(needed >= as_of)
    room = np.clip(as_of - 1 - reported[duty], 0, 6 * 3600)
    accepted_at[duty] = reported[duty] + np.rint(room * 0.1).astype(np.int64)
    dispatched_at[duty] = reported[duty] + np.rint(room * 0.2).astype(np.int64)
    cancelled_at[duty] = dispatched_at[duty]
    cancel_late[duty] = True
    for arr in (starts, handled, feedback, ends, deadlines):
        arr[:, duty] = -1
    reworks[duty] = 0
    evaluate[duty] = False
    on_duty = duty[handling[duty]]
    starts[0, on_duty] = dispatched_at[on_duty]
    deadlines[0, on_duty] = _after(
        work, on_calendar[on_duty], dispatched_at[on_duty], allowance[on_duty]
    )
    done = duty[closed[duty]]
    for arr, share in ((handled, 0.6), (feedback, 0.75), (ends, 0.9)):
        arr[0, done] = reported[done] + np.rint(
            np.clip(as_of - 1 - reported[done], 0, 6 * 3600) * share
        ).astype(np.int64)
    verified_at[done] = ends[0, done]

    rows: list[tuple[object, ...]] = []
    level_out = np.empty(n, dtype=object)
    handler_out = np.empty(n, dtype=object)
    version_out = np.ones(n, dtype=np.int64)
    final_status = status.copy()
    source = incidents["source"].to_numpy(dtype=object)
    ext_id = incidents["ext_id"].to_numpy(dtype=object)
    for i in range(n):
        g = int(gi[i])
        s = status[i]
        events: list[tuple[int, str, int]] = []
        if s != "reported":
            if s == "cancelled" and not cancel_late[i]:
                events.append((int(cancelled_at[i]), "cancel", 0))
            else:
                events.append((int(accepted_at[i]), "accept", 0))
                if s == "cancelled":
                    events.append((int(cancelled_at[i]), "cancel", 0))
                elif s != "accepted":
                    events.append((int(dispatched_at[i]), "dispatch", 0))
        for c in range(rounds):
            if starts[c, i] < 0:
                break
            if c > 0:
                events.append((int(starts[c, i]), "rework", 0))
            if handled[c, i] >= 0:
                events.append((int(handled[c, i]), "handle", 0))
                events.append((int(feedback[c, i]), "feedback", 0))
            end = ends[c, i] if ends[c, i] >= 0 else as_of
            tick = (deadlines[c, i] // ESCALATION_TICK_S + 1) * ESCALATION_TICK_S
            if tick < end:
                events.append((int(tick), "escalate", int(deadlines[c, i])))
        if closed[i]:
            events.append((int(verified_at[i]), "verify", 0))
        if evaluate[i]:
            events.append((int(evaluated_at[i]), "evaluate", 0))
        events.sort(key=_first)

        areas = (
            area_names.get(comm[g], comm[g]),
            area_names.get(sub[g], sub[g]),
            area_names.get(DISTRICT_CODE, DISTRICT_CODE),
        )
        intake = manager_name[g] if source[i] == "patrol" else INTAKE_ACTORS.get(source[i], "来电")
        intake_row = (int(reported[i]), "reported", None, "reported", intake, "reported")
        rows.append((ext_id[i], *intake_row, None, "grid"))
        state, level, version = "reported", Level.GRID, 1
        for at, action, deadline in events:
            before_level, after = level, state
            note: str | None = None
            if action == "escalate":
                if level is Level.DISTRICT:
                    continue
                level = escalate_level(level, has_subdistrict=bool(has_subdistrict[g]))
                when = dt.datetime.fromtimestamp(deadline, CITY_TZ).strftime("%Y-%m-%d %H:%M")
                note = f"超过处置时限（{when}），系统自动上报升级"
                actor = SYSTEM_ACTOR
            else:
                after = _NEXT[state, action]
                actor = _actor(action, level, manager_name[g], areas)
                if action == "cancel":
                    note = _CANCEL_NOTES[cancel_note[i]]
                elif action == "rework":
                    note = _REWORK_NOTES[(rework_note[i] + version) % len(_REWORK_NOTES)]
            levels = (before_level.value, level.value)
            rows.append((ext_id[i], at, action, state, after, actor, note, *levels))
            state = after
            version += 1
        final_status[i] = "evaluated" if evaluate[i] else s
        if state != final_status[i]:
            raise RuntimeError(f"{ext_id[i]}: history ends {state}, not {final_status[i]}")
        level_out[i] = level.value
        handler_out[i] = manager_key[g] if level is Level.GRID else None
        version_out[i] = version

    last = np.maximum.reduce([np.where(starts[c] >= 0, c, 0) for c in range(rounds)])
    out = incidents.copy()
    out["status"] = final_status
    out["handling_level"] = level_out
    out["handler_staff_key"] = handler_out
    out["clock_started_at"] = _stamps(starts[last, np.arange(n)], out.index)
    out["deadline_at"] = _stamps(deadlines[last, np.arange(n)], out.index)
    out["closed_at"] = _stamps(verified_at, out.index)
    out["rework_count"] = reworks.astype(np.int64)
    out["version"] = version_out
    transitions = pd.DataFrame(rows, columns=["incident_ext_id", "at", *TRANSITION_COLUMNS])
    transitions["at"] = _stamps(transitions["at"].to_numpy(dtype=np.int64), transitions.index)
    return out, transitions


def _stamps(epoch_s: NDArray[np.int64], index: pd.Index) -> pd.Series:
    """Epoch seconds as Asia/Shanghai timestamps; negative values (absent) as NaT."""
    values = pd.Series(np.where(epoch_s >= 0, epoch_s, np.nan), index=index)
    return pd.to_datetime(values, unit="s", utc=True).dt.tz_convert(CITY_TZ)
