"""Incident counts and closed-loop rates per grid, community, subdistrict and district.

The database is asked twice per period (incidents and their transitions, per
grid and category); every higher level is a roll-up of the grid sums
(``gis.areas.hierarchy``), and rates are computed after the roll-up from the
summed numerators and denominators, never averaged. The definitions of every
count and rate are in ``docs/incidents.md``. ``_load_*`` functions are the
only SQL; the rest is pure.

A mediation centre's two figures (seed 003, Kaifu's 社会矛盾调处中心: 778 batches
received, 639 handled (调处) = 82.13 %, 542 of them settled on the spot
(当场调处) = 84.82 %) are ``handling_rate`` = closed / (received - cancelled), which is
its 调处率 (handled / received; a cancelled report, a duplicate or one outside the
centre's remit, was never a case to handle), and ``on_the_spot_rate`` (当场办结率) =
on_the_spot / closed: of the cases received in the period and now closed, those
settled on the spot (``workflow``'s ``settle``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import Connection, text

from gis.areas.codes import Level, check_level
from gis.areas.hierarchy import AreaTables, grid_values, load_areas, roll_up
from gis.errors import InvalidParameterError
from gis.incidents.catalogue import UnknownCategoryError, codes_under, top_level
from gis.incidents.catalogue import category as catalogue_category
from gis.incidents.visibility import keeps_row
from gis.localtime import Moment, period

#: Statuses that count as closed (核查结案, then 综合评价).
CLOSED_STATUSES = ("closed", "evaluated")
CANCELLED_STATUSES = ("cancelled",)
#: Steps whose mean time is reported: (action leaving the step, column), in loop order.
STEPS: tuple[tuple[str, str], ...] = (
    ("accept", "hours_reported_accepted"),
    ("dispatch", "hours_accepted_dispatched"),
    ("handle", "hours_dispatched_handled"),
    ("feedback", "hours_handled_feedback"),
    ("verify", "hours_feedback_closed"),
    ("evaluate", "hours_closed_evaluated"),
)
#: Stored actions counted as a step of ``STEPS``: a hand-over (交办) is a dispatch to a unit.
STEP_ACTIONS: dict[str, tuple[str, ...]] = {"dispatch": ("dispatch", "hand_over")}
#: Per-grid sums the workflow measures are built from (besides received/closed/cancelled).
WORKFLOW_SUMS: tuple[str, ...] = (
    "accepted",
    "dispatched",
    "closed_in_period",
    "reworked",
    "escalations",
    "escalated_cases",
    "due",
    "due_closed",
    "due_on_time",
    "on_the_spot",
    *(f"{action}_hours" for action, _ in STEPS),
    *(f"{action}_steps" for action, _ in STEPS),
)
#: Rates of the monthly report, in [0, 1] (NaN without a denominator).
RATE_COLUMNS = ("closure_rate", "on_time_rate", "handling_rate", "on_the_spot_rate", "rework_rate")
HOURS_COLUMNS = tuple(column for _, column in STEPS)


def _category_codes(category: str | None) -> list[str] | None:
    """Stored codes a category filter matches: the code and its subclasses; None for all."""
    if category is None:
        return None
    try:
        return codes_under(category)
    except UnknownCategoryError as exc:
        raise InvalidParameterError(str(exc)) from None


# --------------------------------------------------------------------------- storage (SQL)


@dataclass(frozen=True)
class GridCounts:
    """Incidents of a period per current grid (rows follow ``areas.grid_ids``).

    ``by_category[g, k]`` counts grid ``g``'s incidents in ``categories[k]``;
    ``without_grid`` counts incidents of the period that are in no current grid
    (no grid assigned, or a grid since replaced) and so appear at no level.
    ``workflow[g, j]`` holds the sum ``WORKFLOW_SUMS[j]`` (counts, hours of a
    step and how many steps those hours cover); zeros when not loaded.
    """

    households: NDArray[np.int64]
    received: NDArray[np.int64]
    closed: NDArray[np.int64]
    cancelled: NDArray[np.int64]
    categories: list[str]
    by_category: NDArray[np.int64]
    without_grid: int
    workflow: NDArray[np.float64]


def _load_grid_households(conn: Connection, areas: AreaTables) -> NDArray[np.int64]:
    return np.array(grid_values(conn, areas, "households"), dtype=np.int64)


IncidentRow = tuple[int | None, str, int, int, int, int, int, int, int]
"""(grid_id, category, received, closed, cancelled, due, due_closed, due_on_time,
on_the_spot): ``_COHORT_SUMS`` after the first three."""
_COHORT_SUMS: tuple[str, ...] = ("due", "due_closed", "due_on_time", "on_the_spot")
FlowRow = tuple[Any, ...]
"""(grid_id, category, then the ``WORKFLOW_SUMS`` from ``accepted`` on, except the
``_COHORT_SUMS``, in the order of ``_FLOW_SUMS``)."""
_FLOW_SUMS: tuple[str, ...] = tuple(c for c in WORKFLOW_SUMS if c not in _COHORT_SUMS)


def _load_grid_counts(
    conn: Connection,
    areas: AreaTables,
    start: dt.datetime,
    end: dt.datetime,
    codes: list[str] | None,
) -> list[IncidentRow]:
    """Per grid and stored category code: the period's cohort and the cases due in it."""
    params: dict[str, object] = {
        "start": start,
        "end": end,
        "closed": list(CLOSED_STATUSES),
        "cancelled": list(CANCELLED_STATUSES),
    }
    where = ""
    if codes is not None:
        where = " AND category = ANY(:codes)"
        params["codes"] = codes
    rows = conn.execute(
        text(
            f"""
            SELECT grid_id, category,
                   count(*) FILTER (WHERE received),
                   count(*) FILTER (WHERE received AND status = ANY(:closed)),
                   count(*) FILTER (WHERE received AND status = ANY(:cancelled)),
                   count(*) FILTER (WHERE due),
                   count(*) FILTER (WHERE due AND (closed_at IS NOT NULL
                                                   OR status = ANY(:closed))),
                   count(*) FILTER (WHERE due AND closed_at <= deadline_at),
                   count(*) FILTER (WHERE received AND status = ANY(:closed) AND on_the_spot)
            FROM (
              SELECT grid_id, category, status, closed_at, deadline_at, on_the_spot,
                     reported_at >= :start AND reported_at < :end AS received,
                     deadline_at >= :start AND deadline_at < :end AS due
              FROM incident
              WHERE ((reported_at >= :start AND reported_at < :end)
                     OR (deadline_at >= :start AND deadline_at < :end)){where}
            ) i
            GROUP BY grid_id, category
            """
        ),
        params,
    ).all()
    return [(r[0], r[1], *(int(v) for v in r[2:])) for r in rows]  # type: ignore[misc]


def _load_grid_flows(
    conn: Connection,
    start: dt.datetime,
    end: dt.datetime,
    codes: list[str] | None,
) -> list[FlowRow]:
    """Per grid and stored category code: the transitions of the period (see ``_FLOW_SUMS``).

    A step's time is measured from the previous transition of its case that
    was not an escalation, so the window reaches back before the period for
    the cases touched in it.
    """
    params: dict[str, object] = {"start": start, "end": end}
    where = ""
    if codes is not None:
        where = " AND i.category = ANY(:codes)"
        params["codes"] = codes
    step_sums = ",\n".join(
        f"COALESCE(sum(extract(epoch FROM s.took)) FILTER (WHERE {_is(a)}), 0) / 3600"
        for a, _ in STEPS
    )
    step_counts = ",\n".join(f"count(s.took) FILTER (WHERE {_is(a)})" for a, _ in STEPS)
    rows = conn.execute(
        text(
            f"""
            WITH touched AS (
              SELECT DISTINCT incident_id FROM incident_transition
              WHERE at >= :start AND at < :end
            ), steps AS (
              SELECT t.incident_id, t.action, t.at,
                     t.at - lag(t.at) OVER (PARTITION BY t.incident_id, t.action = 'escalate'
                                            ORDER BY t.at, t.id) AS took
              FROM incident_transition t JOIN touched USING (incident_id)
            )
            SELECT i.grid_id, i.category,
                   count(*) FILTER (WHERE s.action = 'accept'),
                   count(*) FILTER (WHERE {_is("dispatch")}),
                   count(*) FILTER (WHERE s.action = 'verify'),
                   count(*) FILTER (WHERE s.action = 'verify' AND i.rework_count > 0),
                   count(*) FILTER (WHERE s.action = 'escalate'),
                   count(DISTINCT s.incident_id) FILTER (WHERE s.action = 'escalate'),
                   {step_sums},
                   {step_counts}
            FROM steps s JOIN incident i ON i.id = s.incident_id
            WHERE s.at >= :start AND s.at < :end{where}
            GROUP BY i.grid_id, i.category
            """
        ),
        params,
    ).all()
    return [(r[0], r[1], *(float(v) for v in r[2:])) for r in rows]


def _is(action: str) -> str:
    """SQL: the step ``s`` is ``action`` (or an action counted as it, ``STEP_ACTIONS``)."""
    return "s.action IN (" + ", ".join(f"'{a}'" for a in STEP_ACTIONS.get(action, (action,))) + ")"


def load_grid_counts(
    conn: Connection,
    areas: AreaTables,
    start: Moment,
    end: Moment,
    category: str | None = None,
    workflow: bool = True,
) -> GridCounts:
    """Counts of ``[start, end)`` for every current grid; ``workflow=False`` skips the
    transitions (hot spots need only the cohort)."""
    s, e = period(start, end)
    codes = _category_codes(category)
    rows = _load_grid_counts(conn, areas, s, e, codes)
    flows = _load_grid_flows(conn, s, e, codes) if workflow else []
    households = _load_grid_households(conn, areas)
    return grid_counts_from_rows(areas, households, rows, category, flows)


# --------------------------------------------------------------------------- analysis (pure)


def _column_of(code: str) -> str:
    """The top-level category a stored code is counted under (itself if not in the catalogue)."""
    try:
        cat = catalogue_category(code)
    except UnknownCategoryError:
        return code
    return cat.parent or cat.code


def grid_counts_from_rows(
    areas: AreaTables,
    households: NDArray[np.int64],
    rows: Sequence[IncidentRow],
    category: str | None = None,
    flows: Sequence[FlowRow] = (),
) -> GridCounts:
    """Scatter the incident rows and transition rows onto the grid arrays.

    Without a filter the category columns are the catalogue's top-level codes
    (subclass codes counted under their parent) plus any code stored that the
    catalogue lacks; with a filter there is one column, the filter's code.
    Rows of a grid that is not current count only towards ``without_grid``
    (received) and are otherwise left out.
    """
    n = len(areas.grid_ids)
    stored = {r[1] for r in rows} | {f[1] for f in flows}
    if category is None:
        cats = [c.code for c in top_level()]
        cats += sorted({_column_of(code) for code in stored} - set(cats))
        col = {code: cats.index(_column_of(code)) for code in stored}
    else:
        cats = [category]
        col = dict.fromkeys(stored, 0)
    lookup = {int(g): k for k, g in enumerate(areas.grid_ids)}
    received = np.zeros(n, dtype=np.int64)
    closed = np.zeros(n, dtype=np.int64)
    cancelled = np.zeros(n, dtype=np.int64)
    by_cat = np.zeros((n, len(cats)), dtype=np.int64)
    workflow = np.zeros((n, len(WORKFLOW_SUMS)), dtype=np.float64)
    due_at = [WORKFLOW_SUMS.index(c) for c in _COHORT_SUMS]
    flow_at = [WORKFLOW_SUMS.index(c) for c in _FLOW_SUMS]
    # Scattered with np.add.at, not row by row: a period of a large district is
    # thousands of (grid, category) rows, and a Python loop over them held the GIL
    # long enough to slow every other request of the server.
    without = 0
    if rows:
        grid_of = np.array([_grid_index(lookup, r[0]) for r in rows], dtype=np.int64)
        values = np.array([r[2:] for r in rows], dtype=np.float64).reshape(len(rows), -1)
        cat_of = np.array([col[r[1]] for r in rows], dtype=np.int64)
        known = grid_of >= 0
        without = int(values[~known, 0].sum())
        g, v = grid_of[known], values[known]
        np.add.at(received, g, v[:, 0].astype(np.int64))
        np.add.at(closed, g, v[:, 1].astype(np.int64))
        np.add.at(cancelled, g, v[:, 2].astype(np.int64))
        np.add.at(by_cat, (g, cat_of[known]), v[:, 0].astype(np.int64))
        np.add.at(workflow, (g[:, None], np.array(due_at)[None, :]), v[:, 3:])
    if flows:
        grid_of = np.array([_grid_index(lookup, f[0]) for f in flows], dtype=np.int64)
        sums = np.array([f[2:] for f in flows], dtype=np.float64).reshape(len(flows), -1)
        known = grid_of >= 0
        np.add.at(workflow, (grid_of[known][:, None], np.array(flow_at)[None, :]), sums[known])
    return GridCounts(households, received, closed, cancelled, cats, by_cat, without, workflow)


def _grid_index(lookup: dict[int, int], grid_id: object) -> int:
    """Row of ``grid_id`` in the grid arrays, -1 for none or a grid that is not current."""
    return -1 if grid_id is None else lookup.get(int(grid_id), -1)  # type: ignore[call-overload]


def per_1000(count: ArrayLike, households: ArrayLike) -> NDArray[np.float64]:
    """Incidents per 1,000 households; NaN where an area has no households."""
    c = np.asarray(count, dtype=np.float64)
    h = np.asarray(households, dtype=np.float64)
    out = np.full(np.broadcast(c, h).shape, np.nan)
    np.divide(c * 1000.0, h, out=out, where=h > 0)
    return out


def ratio(numerator: ArrayLike, denominator: ArrayLike) -> NDArray[np.float64]:
    """numerator / denominator, NaN where the denominator is 0 (no cases, no rate)."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def closed_loop_rates(
    *,
    received: ArrayLike,
    cancelled: ArrayLike,
    closed: ArrayLike,
    closed_in_period: ArrayLike,
    reworked: ArrayLike,
    due: ArrayLike,
    due_closed: ArrayLike,
    due_on_time: ArrayLike,
    on_the_spot: ArrayLike,
) -> dict[str, NDArray[np.float64]]:
    """The monthly report's rates from summed counts (see the module docstring).

    closure_rate = due_closed / due, on_time_rate = due_on_time / due,
    handling_rate = closed / (received - cancelled) (调处率), on_the_spot_rate =
    on_the_spot / closed (当场办结率), rework_rate = reworked / closed_in_period; each
    NaN where its denominator is 0.
    """
    return {
        "closure_rate": ratio(due_closed, due),
        "on_time_rate": ratio(due_on_time, due),
        "handling_rate": ratio(closed, np.asarray(received) - np.asarray(cancelled)),
        "on_the_spot_rate": ratio(on_the_spot, closed),
        "rework_rate": ratio(reworked, closed_in_period),
    }


def count_table(areas: AreaTables, counts: GridCounts, level: Level) -> pd.DataFrame:
    """One row per area of ``level``: households; received, closed, cancelled, open;
    the workflow counts, rates and mean hours per step (module docstring);
    per_1000_households (received per 1,000 households); then one column per category.

    ``open`` is received minus closed minus cancelled (still in handling).
    Rates and means are computed from the rolled-up sums.
    """
    stacked = np.column_stack(
        [
            counts.households,
            counts.received,
            counts.closed,
            counts.cancelled,
            counts.workflow,
            counts.by_category,
        ]
    )
    codes, names, sums = roll_up(areas, stacked, level)
    hh, rec, clo, can = (sums[:, k].astype(np.int64) for k in range(4))
    wf = {name: sums[:, 4 + j] for j, name in enumerate(WORKFLOW_SUMS)}
    first_category = 4 + len(WORKFLOW_SUMS)

    def whole(name: str) -> NDArray[np.int64]:
        return np.rint(wf[name]).astype(np.int64)

    rates = closed_loop_rates(
        received=rec,
        cancelled=can,
        closed=clo,
        closed_in_period=wf["closed_in_period"],
        reworked=wf["reworked"],
        due=wf["due"],
        due_closed=wf["due_closed"],
        due_on_time=wf["due_on_time"],
        on_the_spot=wf["on_the_spot"],
    )
    columns: dict[str, object] = {
        "level": level,
        "code": codes,
        "name": names,
        "households": hh,
        "received": rec,
        "closed": clo,
        "cancelled": can,
        "open": rec - clo - can,
        "accepted": whole("accepted"),
        "dispatched": whole("dispatched"),
        "closed_in_period": whole("closed_in_period"),
        "due": whole("due"),
        "due_closed": whole("due_closed"),
        "due_on_time": whole("due_on_time"),
        "closure_rate": rates["closure_rate"],
        "on_time_rate": rates["on_time_rate"],
        "handling_rate": rates["handling_rate"],
        "on_the_spot": whole("on_the_spot"),
        "on_the_spot_rate": rates["on_the_spot_rate"],
        "reworked": whole("reworked"),
        "rework_rate": rates["rework_rate"],
        "escalations": whole("escalations"),
        "escalated_cases": whole("escalated_cases"),
    }
    for action, column in STEPS:
        columns[column] = ratio(wf[f"{action}_hours"], wf[f"{action}_steps"])
    columns["per_1000_households"] = per_1000(rec, hh)
    df = pd.DataFrame(columns)
    for k, cat in enumerate(counts.categories):
        df[cat] = sums[:, first_category + k].astype(np.int64)
    df.attrs["incidents_without_grid"] = counts.without_grid
    return df


# --------------------------------------------------------------------------- entry points


def incident_counts(
    conn: Connection,
    start: Moment,
    end: Moment,
    level: Level | str = "grid",
    category: str | None = None,
    areas: AreaTables | None = None,
    within: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Incidents reported in ``[start, end)`` per area of ``level``, zeros included.

    Columns: level, code, name, households, received, closed (now closed or
    evaluated), cancelled, open; accepted, dispatched, closed_in_period, due,
    due_closed, due_on_time, closure_rate, on_time_rate, handling_rate,
    on_the_spot, on_the_spot_rate, reworked, rework_rate, escalations,
    escalated_cases and the mean hours
    per step (``HOURS_COLUMNS``), all defined in the module docstring;
    per_1000_households (received per 1,000 households, NaN for an area
    without households), then counts received per top-level category (or the
    one ``category`` asked for; a top-level code includes its subclasses).
    ``df.attrs["incidents_without_grid"]`` counts incidents of the period
    that fall in no current grid.

    ``within``: keep only the rows of areas under these codes (a caller's
    areas, ``gis.incidents.visibility.statistics_areas``); rates are those of
    the whole area either way. Incidents without a grid are in none of them,
    so ``incidents_without_grid`` is then 0.
    """
    lvl = check_level(level)
    areas = areas or load_areas(conn)
    counts = load_grid_counts(conn, areas, start, end, category)
    return rows_within(count_table(areas, counts, lvl), within)


def rows_within(df: pd.DataFrame, within: tuple[str, ...] | None) -> pd.DataFrame:
    """The rows of ``df`` whose ``code`` lies under one of ``within`` (None: all of them)."""
    if within is None:
        return df
    keep = df["code"].astype(str).map(lambda code: keeps_row(code, within))
    narrowed = df[keep.to_numpy(dtype=bool)].reset_index(drop=True)
    narrowed.attrs = {**df.attrs, "incidents_without_grid": 0}
    return narrowed


def to_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV in UTF-8 with a byte-order mark, so Excel shows Chinese names."""
    out = Path(path)
    df.to_csv(out, index=False, encoding="utf-8-sig")
    return out
