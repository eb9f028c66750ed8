"""A grid's figures for a month beside its community's average per grid (the my-grid page).

For the calendar month in Asia/Shanghai: ``received`` (reported in the month),
``closed`` (closed in the month, 核查结案), ``closed_on_time`` (of those, closed by
their handling deadline), ``on_time_rate`` (closed_on_time / closed, None without
any), and as of ``now``: ``open_now`` and ``overdue_now`` (open with the handling
deadline or the supervision limit passed, as the inbox counts them). The
community's average divides the community's totals by its number of current
grids; its rate is the community's pooled rate.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import check_code
from gis.errors import InvalidParameterError, NotFoundError
from gis.incidents.workflow import OPEN_STATES
from gis.localtime import CITY_TZ, utc_now

_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class MonthFigures:
    received: float
    closed: float
    closed_on_time: float
    on_time_rate: float | None
    open_now: float
    overdue_now: float


@dataclass(frozen=True)
class GridMonth:
    """The grid's figures and its community's average per grid (``community_grids`` grids)."""

    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    month: str
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    grid: MonthFigures
    community_average: MonthFigures
    community_grids: int


def month_bounds(month: str | None, now: dt.datetime) -> tuple[str, dt.datetime, dt.datetime]:
    """``YYYY-MM`` (default: the month of ``now`` in the city) and its local start and end."""
    if month is None:
        month = now.astimezone(CITY_TZ).strftime("%Y-%m")
    m = _MONTH.match(month)
    if m is None:
        raise InvalidParameterError(f"month {month!r} is not YYYY-MM (e.g. 2026-10)")
    year, mon = int(m[1]), int(m[2])
    start = dt.datetime(year, mon, 1, tzinfo=CITY_TZ)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=CITY_TZ)
    return month, start, end


_FIGURES = """
SELECT g.code,
       count(i.id) FILTER (WHERE i.reported_at >= :start AND i.reported_at < :end) AS received,
       count(i.id) FILTER (WHERE i.closed_at >= :start AND i.closed_at < :end
                             AND i.status IN ('closed', 'evaluated')) AS closed,
       count(i.id) FILTER (WHERE i.closed_at >= :start AND i.closed_at < :end
                             AND i.status IN ('closed', 'evaluated')
                             AND (i.deadline_at IS NULL OR i.closed_at <= i.deadline_at))
         AS closed_on_time,
       count(i.id) FILTER (WHERE i.status = ANY(:open) AND i.reported_at <= :now) AS open_now,
       count(i.id) FILTER (WHERE i.status = ANY(:open) AND i.reported_at <= :now
                             AND (i.deadline_at < :now OR i.supervise_due_at < :now))
         AS overdue_now
FROM grid g LEFT JOIN incident i ON i.grid_id = g.id AND i.duplicate_of IS NULL
WHERE g.community_id = :community AND g.valid_to IS NULL
GROUP BY g.code
"""


def _figures(
    received: int, closed: int, on_time: int, open_now: int, overdue: int, n: int = 1
) -> MonthFigures:
    return MonthFigures(
        received=received / n,
        closed=closed / n,
        closed_on_time=on_time / n,
        on_time_rate=(on_time / closed) if closed else None,
        open_now=open_now / n,
        overdue_now=overdue / n,
    )


def grid_month(
    session: Session, grid_code: str, month: str | None = None, *, now: dt.datetime | None = None
) -> GridMonth:
    """The figures of current grid ``grid_code`` for ``month`` (module docstring).

    NotFoundError without such a grid; InvalidParameterError for a malformed code or month.
    """
    check_code(grid_code, "grid")
    now = now or utc_now()
    month, start, end = month_bounds(month, now)
    grid = session.execute(
        text(
            "SELECT g.code, g.name, g.community_id, c.code AS community_code,"
            " c.name AS community_name FROM grid g JOIN admin_area c ON c.id = g.community_id"
            " WHERE g.code = :code AND g.valid_to IS NULL ORDER BY g.valid_from DESC LIMIT 1"
        ),
        {"code": grid_code},
    ).first()
    if grid is None:
        raise NotFoundError(f"no current grid has code {grid_code}")
    rows = session.execute(
        text(_FIGURES),
        {
            "community": grid.community_id,
            "start": start,
            "end": end,
            "now": now,
            "open": list(OPEN_STATES),
        },
    ).all()
    mine = next(r for r in rows if r.code == grid_code)
    t = {k: sum(int(getattr(r, k)) for r in rows) for k in _KEYS}
    return GridMonth(
        grid_code=grid.code,
        grid_name=grid.name,
        community_code=grid.community_code,
        community_name=grid.community_name,
        month=month,
        start=start,
        end=end,
        now=now,
        grid=_figures(*(int(getattr(mine, k)) for k in _KEYS)),
        community_average=_figures(
            t["received"],
            t["closed"],
            t["closed_on_time"],
            t["open_now"],
            t["overdue_now"],
            n=len(rows),
        ),
        community_grids=len(rows),
    )


_KEYS = ("received", "closed", "closed_on_time", "open_now", "overdue_now")
