"""Incident statistics per grid, community, subdistrict and district, and hot spots.

Grids are assessed on incidents per 1,000 households (seed 004's grids hold
200-300 households each but differ), so every table carries
``per_1000_households`` next to the raw counts. The database is asked twice
(one aggregation of incidents and one of their transitions, per grid and
category, over the current grids); every higher level is a numpy roll-up
through ``AreaTables``, so the four levels always add up and grids without
incidents appear with zeros.

Periods are half-open, ``[start, end)``; dates and naive datetimes are read in
Asia/Shanghai, the time the city works in. Every measure is summed per grid
and rolled up; rates are computed after the roll-up from the summed
numerators and denominators (never an average of rates), so a community's
rate weighs its grids by their cases. A rate whose denominator is 0 is NaN.

Counts (``t`` = a transition's time in ``incident_transition``):

* ``received``: reported in the period (the cohort). ``closed``,
  ``cancelled``, ``open``: of the cohort, those now closed or evaluated, now
  cancelled, and the rest (still in handling): the data as stored, not as of
  the period's end.
* ``accepted``, ``dispatched``: accept (立案) and dispatch (派遣) transitions
  in the period. ``closed_in_period``: verify (核查结案) transitions in the
  period (结案数); ``reworked``: of those, cases sent back at least once.
* ``due`` (应结案数): cases whose deadline (``deadline_at``, the last one if
  the case was sent back) falls in the period; ``due_closed``: of those, the
  ones closed (now); ``due_on_time``: the ones closed by their deadline
  (``closed_at <= deadline_at``).
* ``escalations``: escalate transitions in the period; ``escalated_cases``:
  distinct cases escalated in the period.

Rates (monthly report definitions of a city-management office):

* ``closure_rate`` (结案率) = due_closed / due
* ``on_time_rate`` (按期结案率) = due_on_time / due
  (one city's month: 972 due, 911 closed = 93.72 %, 737 on time = 75.82 %)
* ``handling_rate`` (办结率) = closed / (received - cancelled), the cohort's
* ``rework_rate`` (返工率) = reworked / closed_in_period

Mean time per step, ``hours_<from>_<to>``: elapsed (calendar) hours from the
transition that entered a step to the one that left it, for transitions
leaving it in the period (escalations, which change no step, are skipped):
reported→accepted, accepted→dispatched, dispatched→handled (from the
dispatch, rework or redispatch that started the round), handled→feedback,
feedback→closed, closed→evaluated; NaN where no case took the step.

Hot spots are Getis-Ord Gi* (esda ``G_Local`` with ``star=True``) on the rate
per 1,000 households, over Queen contiguity of the grid polygons (binary
weights, each grid counted in its own neighbourhood), with normal and
permutation p-values; classes follow the usual Gi* bins (90/95/99 % hot or
cold).

Layout: the ``_load_*`` functions are the only SQL; ``roll_up``,
``count_table``, ``ratio``, ``closed_loop_rates``, ``classify_gi`` and
``gi_star`` are pure.
"""

from __future__ import annotations

import datetime as dt
import warnings
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import Connection, text

from gis.coverage.store import AreaTables, load_areas
from gis.db.models import SRID
from gis.errors import InvalidParameterError
from gis.geo.metric import MetricPlane
from gis.incidents.catalogue import UnknownCategoryError, subclasses, top_level
from gis.incidents.catalogue import category as catalogue_category

TIMEZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
Level = Literal["grid", "community", "subdistrict", "district"]
LEVELS: tuple[Level, ...] = ("grid", "community", "subdistrict", "district")
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
    *(f"{action}_hours" for action, _ in STEPS),
    *(f"{action}_steps" for action, _ in STEPS),
)
#: Rates of the monthly report, in [0, 1] (NaN without a denominator).
RATE_COLUMNS = ("closure_rate", "on_time_rate", "handling_rate", "rework_rate")
HOURS_COLUMNS = tuple(column for _, column in STEPS)
#: Gi* classes, hottest first; the map legend reads them in this order.
HOT_SPOT_CLASSES = (
    "hot 99%",
    "hot 95%",
    "hot 90%",
    "not significant",
    "cold 90%",
    "cold 95%",
    "cold 99%",
)
#: (largest p-value, confidence label) from the strictest bin down.
_GI_BINS = ((0.01, "99%"), (0.05, "95%"), (0.10, "90%"))

Moment = dt.date | dt.datetime
#: Which p-value the Gi* classes use: the normal one of the z-score (the textbook test,
#: default) or the pseudo p-value of esda's conditional permutations (see ``gi_star``).
Inference = Literal["permutation", "normal"]


# --------------------------------------------------------------------------- inputs


def as_instant(moment: Moment) -> dt.datetime:
    """An aware datetime; a date is its midnight and a naive datetime is read in Asia/Shanghai."""
    if isinstance(moment, dt.datetime):
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=TIMEZONE)
    return dt.datetime.combine(moment, dt.time(0), TIMEZONE)


def _period(start: Moment, end: Moment) -> tuple[dt.datetime, dt.datetime]:
    s, e = as_instant(start), as_instant(end)
    if e <= s:
        raise InvalidParameterError(
            f"the period [{s.isoformat()}, {e.isoformat()}) is empty or reversed: "
            "end must be after start (the end itself is excluded)"
        )
    return s, e


def _category_codes(category: str | None) -> list[str] | None:
    """Stored codes a category filter matches: the code and its subclasses; None for all."""
    if category is None:
        return None
    try:
        catalogue_category(category)
    except UnknownCategoryError as exc:
        raise InvalidParameterError(str(exc)) from None
    return [category, *(c.code for c in subclasses(category))]


def _level(level: str) -> Level:
    if level not in LEVELS:
        raise InvalidParameterError(f"unknown level {level!r}; use one of: {', '.join(LEVELS)}")
    return level  # type: ignore[return-value]


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
    rows = conn.execute(
        text("SELECT id, households FROM grid WHERE id = ANY(:ids)"),
        {"ids": areas.grid_ids.tolist()},
    ).all()
    by_id = {int(i): int(h) for i, h in rows}
    return np.array([by_id[int(i)] for i in areas.grid_ids], dtype=np.int64)


IncidentRow = tuple[int | None, str, int, int, int, int, int, int]
"""(grid_id, category, received, closed, cancelled, due, due_closed, due_on_time)."""
FlowRow = tuple[Any, ...]
"""(grid_id, category, then the ``WORKFLOW_SUMS`` from ``accepted`` on, except the three
``due`` sums, in the order of ``_FLOW_SUMS``)."""
_FLOW_SUMS: tuple[str, ...] = tuple(c for c in WORKFLOW_SUMS if not c.startswith("due"))


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
                   count(*) FILTER (WHERE due AND closed_at <= deadline_at)
            FROM (
              SELECT grid_id, category, status, closed_at, deadline_at,
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
        f"COALESCE(sum(extract(epoch FROM s.took)) FILTER (WHERE s.action = '{a}'), 0) / 3600"
        for a, _ in STEPS
    )
    step_counts = ",\n".join(f"count(s.took) FILTER (WHERE s.action = '{a}')" for a, _ in STEPS)
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
                   count(*) FILTER (WHERE s.action = 'dispatch'),
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


def _load_grid_polygons(conn: Connection, areas: AreaTables) -> NDArray[np.object_]:
    """Current grid polygons (EPSG:4326) in the order of ``areas.grid_ids``."""
    rows = conn.execute(
        text("SELECT id, ST_AsBinary(geom) FROM grid WHERE id = ANY(:ids)"),
        {"ids": areas.grid_ids.tolist()},
    ).all()
    by_id = {int(i): bytes(g) for i, g in rows}
    return shapely.from_wkb([by_id[int(i)] for i in areas.grid_ids])


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
    s, e = _period(start, end)
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
    due_at = [WORKFLOW_SUMS.index(c) for c in ("due", "due_closed", "due_on_time")]
    flow_at = [WORKFLOW_SUMS.index(c) for c in _FLOW_SUMS]
    without = 0
    for grid_id, code, rec, clo, can, *due in rows:
        g = lookup.get(int(grid_id)) if grid_id is not None else None
        if g is None:
            without += rec
            continue
        received[g] += rec
        closed[g] += clo
        cancelled[g] += can
        by_cat[g, col[code]] += rec
        workflow[g, due_at] += due
    for grid_id, _code, *sums in flows:
        g = lookup.get(int(grid_id)) if grid_id is not None else None
        if g is not None:
            workflow[g, flow_at] += sums
    return GridCounts(households, received, closed, cancelled, cats, by_cat, without, workflow)


def roll_up(
    areas: AreaTables, values: NDArray[np.int64], level: Level
) -> tuple[list[str], list[str], NDArray[np.int64]]:
    """Sum per-grid rows (first axis) up to ``level``: (codes, names, sums).

    At the subdistrict level, a community hanging directly off the district
    (no subdistrict level, as in seed 002) stands as its own row, so nothing
    is dropped and the rows still add up to the district.
    """
    values = np.asarray(values)
    if level == "grid":
        return list(areas.grid_codes), list(areas.grid_names), values.copy()
    n_comm = len(areas.community_codes)
    comm = np.zeros((n_comm, *values.shape[1:]), dtype=values.dtype)
    np.add.at(comm, areas.community_of_grid, values)
    if level == "community":
        return list(areas.community_codes), list(areas.community_names), comm
    if level == "district":
        return [areas.district_code], [areas.district_name], values.sum(axis=0, keepdims=True)
    sub = areas.subdistrict_of_community
    n_sub = len(areas.subdistrict_codes)
    orphans = np.flatnonzero(sub < 0)
    target = sub.copy()
    target[orphans] = n_sub + np.arange(len(orphans))
    out = np.zeros((n_sub + len(orphans), *values.shape[1:]), dtype=values.dtype)
    np.add.at(out, target, comm)
    codes = list(areas.subdistrict_codes) + [areas.community_codes[c] for c in orphans]
    names = list(areas.subdistrict_names) + [areas.community_names[c] for c in orphans]
    return codes, names, out


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
) -> dict[str, NDArray[np.float64]]:
    """The monthly report's rates from summed counts (see the module docstring).

    closure_rate = due_closed / due, on_time_rate = due_on_time / due,
    handling_rate = closed / (received - cancelled), rework_rate = reworked /
    closed_in_period; each NaN where its denominator is 0.
    """
    return {
        "closure_rate": ratio(due_closed, due),
        "on_time_rate": ratio(due_on_time, due),
        "handling_rate": ratio(closed, np.asarray(received) - np.asarray(cancelled)),
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


def classify_gi(z: ArrayLike, p: ArrayLike) -> NDArray[np.object_]:
    """Gi* class per area: 'hot 99%' … 'not significant' … 'cold 99%'.

    The confidence comes from the p-value (≤ 0.01, ≤ 0.05, ≤ 0.10), the
    direction from the sign of the z-score (positive: high values cluster).
    NaN p-values or z = 0 are not significant.
    """
    zz = np.asarray(z, dtype=np.float64)
    pp = np.asarray(p, dtype=np.float64)
    out = np.full(zz.shape, "not significant", dtype=object)
    for limit, conf in reversed(_GI_BINS):  # loosest first, stricter bins overwrite
        sig = pp <= limit
        out[sig & (zz > 0)] = f"hot {conf}"
        out[sig & (zz < 0)] = f"cold {conf}"
    return out


def two_sided_p(
    observed: NDArray[np.float64], simulated: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Two-sided pseudo p-value of each observed statistic against its permutations.

    ``simulated[i]`` holds area ``i``'s statistic under each permutation. The
    tail the observation lies in is counted (plus one for the observation
    itself) and doubled, capped at 1: the two-sided test the ±1.65/1.96/2.58
    Gi* bins stand for; with 999 permutations the smallest p is 0.002.
    """
    obs = np.asarray(observed, dtype=np.float64)[:, None]
    sims = np.asarray(simulated, dtype=np.float64)
    tail = np.minimum((sims >= obs).sum(axis=1), (sims <= obs).sum(axis=1))
    return np.minimum(1.0, 2.0 * (tail + 1) / (sims.shape[1] + 1))


@dataclass(frozen=True)
class GiStar:
    """Gi* per area.

    ``z``: standard deviations from the statistic's analytical moments (Ord &
    Getis 1995; independent of the seed). ``p_norm``: its two-sided normal
    p-value. ``p_sim``: two-sided pseudo p-value from conditional permutations
    (seeded). ``label``: the Gi* class from ``z`` and the p-value ``inference``
    chose.
    """

    z: NDArray[np.float64]
    p_norm: NDArray[np.float64]
    p_sim: NDArray[np.float64]
    label: NDArray[np.object_]
    inference: Inference


def gi_star(
    values: ArrayLike,
    weights: object,
    permutations: int = 999,
    seed: int = 20251101,
    inference: Inference = "normal",
) -> GiStar:
    """Getis-Ord Gi* of ``values`` over binary ``weights`` (libpysal W), reproducible by seed.

    Classes use the normal p-value by default, the textbook Gi* test (as in
    ArcGIS's Hot Spot Analysis): esda's permutations are *conditional* on the
    area's own value, so they test only its neighbours and ignore the very
    value that makes Gi* "star". On the demo, conditional permutation misses
    five of the twelve seeded hot grids (single busy grids among ordinary
    neighbours, p_sim 0.2-0.35) and labels grids with z ≈ -1.1 "cold 99%"
    (the rates are skewed); ``inference="permutation"`` is there for analysts
    who want the cluster-only reading. Constant values (an empty period) have
    no hot spots: z = 0, p = 1, instead of a division by zero.
    """
    from esda.getisord import G_Local  # esda is heavy; only hot spots need it

    y = np.asarray(values, dtype=np.float64)
    if len(y) == 0 or np.ptp(y) == 0:
        z = np.zeros(len(y))
        p = np.ones(len(y))
        return GiStar(z, p, p.copy(), classify_gi(z, p), inference)
    with warnings.catch_warnings():
        # esda warns that its one-sided default p will change; we compute our own below.
        warnings.filterwarnings("ignore", "The alternative hypothesis", DeprecationWarning)
        g = G_Local(
            y,
            weights,
            transform="B",
            permutations=permutations,
            star=True,
            keep_simulations=True,
            n_jobs=1,
            seed=seed,
        )
    z = np.asarray(g.Zs, dtype=np.float64)
    p_norm = np.minimum(1.0, 2.0 * np.asarray(g.p_norm, dtype=np.float64))
    p_sim = two_sided_p(np.asarray(g.Gs), np.asarray(g.rGs))
    label = classify_gi(z, p_norm if inference == "normal" else p_sim)
    return GiStar(z, p_norm, p_sim, label, inference)


def contiguity_weights(polygons: NDArray[np.object_], plane: MetricPlane) -> tuple[object, str]:
    """Queen contiguity of the grid polygons, or a distance band if some grid touches none.

    Grids are a seamless tiling, so Queen normally works; a grid left without
    neighbours (a gap from digitising) would make Gi* meaningless for it, so
    then every grid gets the neighbours within the smallest distance (metres,
    between representative points on ``plane``) that leaves none alone.
    Returns (weights, "queen" | "distance_band <m> m").
    """
    import geopandas as gpd
    from libpysal.weights import DistanceBand, Queen, min_threshold_distance

    frame = gpd.GeoDataFrame(geometry=polygons, crs=SRID)
    w = Queen.from_dataframe(frame, use_index=False, silence_warnings=True)
    if not w.islands:
        return w, "queen"
    pts = shapely.get_coordinates(shapely.point_on_surface(polygons))
    xy = plane.to_plane(pts[:, 0], pts[:, 1])
    threshold = float(min_threshold_distance(xy)) * 1.0001
    band = DistanceBand(xy, threshold=threshold, binary=True, silence_warnings=True)
    return band, f"distance_band {threshold:.0f} m"


# --------------------------------------------------------------------------- entry points


def incident_counts(
    conn: Connection,
    start: Moment,
    end: Moment,
    level: Level | str = "grid",
    category: str | None = None,
    areas: AreaTables | None = None,
) -> pd.DataFrame:
    """Incidents reported in ``[start, end)`` per area of ``level``, zeros included.

    Columns: level, code, name, households, received, closed (now closed or
    evaluated), cancelled, open; accepted, dispatched, closed_in_period, due,
    due_closed, due_on_time, closure_rate, on_time_rate, handling_rate,
    reworked, rework_rate, escalations, escalated_cases and the mean hours
    per step (``HOURS_COLUMNS``), all defined in the module docstring;
    per_1000_households (received per 1,000 households, NaN for an area
    without households), then counts received per top-level category (or the
    one ``category`` asked for; a top-level code includes its subclasses).
    ``df.attrs["incidents_without_grid"]`` counts incidents of the period
    that fall in no current grid.
    """
    lvl = _level(level)
    areas = areas or load_areas(conn)
    counts = load_grid_counts(conn, areas, start, end, category)
    return count_table(areas, counts, lvl)


def hot_spots(
    conn: Connection,
    start: Moment,
    end: Moment,
    category: str | None = None,
    permutations: int = 999,
    seed: int = 20251101,
    inference: Inference = "normal",
    areas: AreaTables | None = None,
) -> pd.DataFrame:
    """Per current grid: households, received, rate per 1,000 households and Gi*.

    Gi* columns: ``gi_z`` (standard deviations), ``p_norm`` (two-sided normal
    p-value), ``p_sim`` (two-sided pseudo p-value of ``permutations``
    conditional permutations drawn from ``seed``) and ``hot_spot``, the class
    from ``gi_z`` and the p-value ``inference`` names (see ``gi_star`` for why
    "normal" is the default). Gi* runs on the rate so that a grid is hot
    because its households report more, not because it has more households; a
    grid without households enters the test with rate 0 (its
    ``per_1000_households`` stays NaN). ``df.attrs`` holds ``weights`` (which
    neighbourhood was used) and ``inference``.
    """
    if inference not in ("permutation", "normal"):
        raise InvalidParameterError("inference must be 'normal' or 'permutation'")
    if permutations < 99:
        raise InvalidParameterError(
            "permutations must be at least 99 (999 gives two-sided p-values down to 0.002)"
        )
    areas = areas or load_areas(conn)
    counts = load_grid_counts(conn, areas, start, end, category, workflow=False)
    polygons = _load_grid_polygons(conn, areas)
    weights, kind = contiguity_weights(polygons, MetricPlane.around(areas.centre_lon))
    rate = per_1000(counts.received, counts.households)
    gi = gi_star(np.nan_to_num(rate, nan=0.0), weights, permutations, seed, inference)
    df = pd.DataFrame(
        {
            "code": areas.grid_codes,
            "name": areas.grid_names,
            "community_code": [areas.community_codes[c] for c in areas.community_of_grid],
            "households": counts.households,
            "received": counts.received,
            "per_1000_households": rate,
            "gi_z": gi.z,
            "p_norm": gi.p_norm,
            "p_sim": gi.p_sim,
            "hot_spot": gi.label,
        }
    )
    df.attrs["weights"] = kind
    df.attrs["inference"] = inference
    df.attrs["incidents_without_grid"] = counts.without_grid
    return df


def to_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV in UTF-8 with a byte-order mark, so Excel shows Chinese names."""
    out = Path(path)
    df.to_csv(out, index=False, encoding="utf-8-sig")
    return out
