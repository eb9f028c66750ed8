"""Position reports in, batch by batch: history stored, last positions and geofence states
updated, alarms raised, in four statements whatever the batch's size.

The working load is 10,000 devices reporting every 30 s (333 a second); a batch is
up to ``CareSettings.batch_max`` reports. Per batch:

1. the devices named are read **and locked** (``FOR UPDATE``, in id order so two
   batches never deadlock): their holder, last report time, fence state and fence
   (a circle around home, or the person's polygon, read once per person version);
2. every report goes into the history in one ``INSERT … SELECT FROM unnest``;
   a report already stored (the same device and time: a batch sent again after
   a lost answer) adds nothing;
3. the fences are evaluated for all reports at once (``gis.care.fences``, numpy
   and shapely on a metric plane), and each device's new reports, in time order,
   pass through its hysteresis;
4. every device with newer reports gets its last position and fence state in one
   ``UPDATE … FROM unnest``.

A device leaving its fence (confirmed) becomes a ``geofence_alarm`` and a help-request
case filed in the person's home grid for their responsible worker (``alarms.py``);
coming back (confirmed) closes the alarm's ``returned_at``. Reports older than the
device's last one are kept in the history but move nothing (they arrived late).

The caller commits: what the answer acknowledges is then stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from gis.care import alarms
from gis.care.devices import DEVICE_ID
from gis.care.fences import (
    INSIDE_STATE,
    OUTSIDE_STATE,
    FenceRules,
    Fences,
    FenceState,
    Verdict,
    advance,
    outside_by,
    verdicts,
)
from gis.db.arrays import float_array, int_array, text_array
from gis.errors import InvalidParameterError
from gis.geo.datum import WGS84, Datum, to_wgs84
from gis.geo.metric import MetricPlane
from gis.localtime import utc_now
from gis.principal import Principal

CHINA_LON = (73.4, 135.2)
CHINA_LAT = (3.8, 53.6)
"""Where a position in China may lie (degrees): a report outside is refused, not stored."""
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a report's time may lie (a device's clock runs ahead)."""


@dataclass(frozen=True)
class PositionBatch:
    """Reports as they arrive: parallel sequences, one element per report, in one datum.

    ``accuracy_m`` is the device's stated accuracy in metres (NaN where not stated).
    """

    device_ids: Sequence[str]
    at: Sequence[dt.datetime]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    accuracy_m: NDArray[np.float64]
    datum: Datum = WGS84

    def __len__(self) -> int:
        return len(self.device_ids)


@dataclass(frozen=True)
class Rejected:
    """A report not stored: its position in the batch, its device and why (both languages)."""

    index: int
    device_id: str
    reason: str
    reason_zh: str


@dataclass(frozen=True)
class IngestResult:
    """What a batch did: reports received, newly stored, already stored (sent again),
    refused (with reasons), and the alarms raised and cleared."""

    received: int
    stored: int
    repeated: int
    rejected: list[Rejected] = field(default_factory=list)
    alarms: list[alarms.Alarm] = field(default_factory=list)
    returned: int = 0


@dataclass(frozen=True)
class _Home:
    """What a person's fence needs, as of their row's ``version``."""

    version: int
    created: float
    lon: float
    lat: float
    radius_m: float
    grid_code: str
    has_polygon: bool


_homes: dict[int, _Home] = {}
HOMES_MAX = 200_000
"""People whose fence (home, radius, grid) a process keeps, checked against their row's
version and creation time on every batch: a move or a new radius is a new version, read
again; another database (tests, a restore) has other creation times."""


@dataclass(frozen=True)
class _Devices:
    """The batch's device rows, by column (index = row of the ``SELECT``), with their
    holders' fences."""

    id: list[str]
    person_id: NDArray[np.int64]  # 0: a worker's device
    worker_id: NDArray[np.int64]  # 0: a person's device
    area_code: list[str | None]
    last_at: NDArray[np.float64]  # epoch seconds, NaN: never reported
    state: list[str]
    streak: NDArray[np.int64]
    person_version: NDArray[np.int64]
    created: list[float]  # the person's creation time (epoch s): with the version, a cache key
    radius_m: NDArray[np.float64]
    home_lon: NDArray[np.float64]
    home_lat: NDArray[np.float64]
    has_polygon: NDArray[np.bool_]

    @classmethod
    def read(cls, session: Session, ids: list[str]) -> _Devices:
        rows = session.execute(_DEVICES, {"ids": text_array(ids)}).all()
        (ident, person, worker, worker_area, last_at, state, streak, version, created) = (
            list(zip(*rows, strict=True)) if rows else [()] * 9
        )
        homes = _homes_of(session, person, version, created)
        none = _Home(0, 0.0, 0.0, 0.0, np.nan, "", False)
        found = [none if p is None else homes[p] for p in person]
        return cls(
            list(ident),
            np.array([p or 0 for p in person], dtype=np.int64),
            np.array([w or 0 for w in worker], dtype=np.int64),
            [
                h.grid_code if p is not None else a
                for h, p, a in zip(found, person, worker_area, strict=True)
            ],
            np.array([np.nan if t is None else t for t in last_at], dtype=np.float64),
            list(state),
            np.array(streak, dtype=np.int64),
            np.array([v or 0 for v in version], dtype=np.int64),
            [h.created for h in found],
            np.array([h.radius_m for h in found], dtype=np.float64),
            np.array([h.lon for h in found], dtype=np.float64),
            np.array([h.lat for h in found], dtype=np.float64),
            np.array([h.has_polygon for h in found], dtype=bool),
        )


def _homes_of(
    session: Session,
    people: Sequence[int | None],
    versions: Sequence[int | None],
    created: Sequence[float | None],
) -> dict[int, _Home]:
    """The fences of ``people`` at ``versions``: from the cache, the rest read at once."""
    found: dict[int, _Home] = {}
    missing: list[int] = []
    for person, version, made in zip(people, versions, created, strict=True):
        if person is None:
            continue
        home = _homes.get(person)
        if home is not None and home.version == version and home.created == made:
            found[person] = home
        else:
            missing.append(person)
    if missing:
        if len(_homes) > HOMES_MAX:
            _homes.clear()
        for row in session.execute(_HOMES, {"ids": int_array(missing)}):
            home = _Home(*row[1:])
            _homes[int(row[0])] = found[int(row[0])] = home
    return found


_DEVICES = text(
    """SELECT d.id, d.person_id, d.worker_id, a.code AS worker_area,
              EXTRACT(EPOCH FROM d.last_at)::float8 AS last_at, d.fence_state,
              d.fence_streak, p.version, EXTRACT(EPOCH FROM p.created_at)::float8
       FROM device d
       LEFT JOIN person p ON p.id = d.person_id
       LEFT JOIN care_worker w ON w.id = d.worker_id
       LEFT JOIN admin_area a ON a.id = w.community_id
       WHERE d.id = ANY(CAST(:ids AS text[]))
       ORDER BY d.id
       FOR UPDATE OF d"""
)

_HOMES = text(
    """SELECT p.id, p.version, EXTRACT(EPOCH FROM p.created_at)::float8, ST_X(b.location),
              ST_Y(b.location), p.safe_radius_m::float8, g.code, p.safe_area IS NOT NULL
       FROM person p JOIN building b ON b.id = p.building_id JOIN grid g ON g.id = p.grid_id
       WHERE p.id = ANY(CAST(:ids AS bigint[]))"""
)

_STORE = text(
    """INSERT INTO position_report (device_id, at, geom, accuracy_m, datum)
       SELECT u.d, to_timestamp(u.a), ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), u.acc, :datum
       FROM unnest(CAST(:d AS text[]), CAST(:a AS float8[]), CAST(:x AS float8[]),
                   CAST(:y AS float8[]), CAST(:acc AS float8[])) AS u(d, a, x, y, acc)
       ON CONFLICT (device_id, at) DO NOTHING"""
)

_STORE_NEW = text(_STORE.text.replace("ON CONFLICT (device_id, at) DO NOTHING", ""))


def _store(
    session: Session,
    statement: TextClause,
    datum: Datum,
    which: NDArray[np.bool_],
    device_ids: list[str],
    epoch: NDArray[np.float64],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    accuracy: NDArray[np.float64],
) -> int:
    """Inserts the reports ``which`` selects; how many were stored."""
    picked = np.flatnonzero(which)
    params = {
        "d": text_array([device_ids[k] for k in picked.tolist()]),
        "a": float_array(epoch[picked]),
        "x": float_array(lon[picked]),
        "y": float_array(lat[picked]),
        "acc": float_array(accuracy[picked]),
        "datum": datum.kind.value,
    }
    return int(session.connection().execute(statement, params).rowcount)


_UPDATE = text(
    """UPDATE device d
       SET last_at = to_timestamp(u.a), last_geom = ST_SetSRID(ST_MakePoint(u.x, u.y), 4326),
           last_accuracy_m = u.acc, fence_state = u.s, fence_streak = u.k
       FROM unnest(CAST(:d AS text[]), CAST(:a AS float8[]), CAST(:x AS float8[]),
                   CAST(:y AS float8[]), CAST(:acc AS float8[]), CAST(:s AS text[]),
                   CAST(:k AS int2[])) AS u(d, a, x, y, acc, s, k)
       WHERE d.id = u.d"""
)

_ARRIVALS = text(
    """UPDATE emergency_call c SET arrived_at = greatest(to_timestamp(u.a), c.dispatched_at)
       FROM unnest(CAST(:w AS int[]), CAST(:a AS float8[]), CAST(:x AS float8[]),
                   CAST(:y AS float8[])) AS u(w, a, x, y)
       WHERE c.worker_id = u.w AND c.arrived_at IS NULL AND c.closed_at IS NULL
         AND to_timestamp(u.a) >= c.dispatched_at
         AND ST_DWithin(c.geom::geography,
                        ST_SetSRID(ST_MakePoint(u.x, u.y), 4326)::geography, :r)"""
)
"""A dispatched worker's report within the arrival radius of their open call records the
arrival (``gis.care.emergency``)."""

_POLYGONS = text(
    "SELECT id, version, ST_AsBinary(safe_area) AS wkb FROM person "
    "WHERE id = ANY(CAST(:ids AS bigint[])) AND safe_area IS NOT NULL"
)

_polygon_cache: dict[tuple[int, int, float, int], shapely.Polygon] = {}
POLYGON_CACHE_MAX = 50_000
"""Safe-area polygons kept on their plane, by (person, version, zone): a changed person
has a new version, so a stale polygon is never used, only left to be evicted."""


def _checked(
    batch: PositionBatch, now: dt.datetime, oldest: dt.datetime
) -> tuple[NDArray[np.bool_], list[Rejected]]:
    """Which reports may be stored, and why the others may not."""
    lon, lat = batch.lon, batch.lat
    finite = np.isfinite(lon) & np.isfinite(lat)
    inside = (
        finite
        & (lon >= CHINA_LON[0])
        & (lon <= CHINA_LON[1])
        & (lat >= CHINA_LAT[0])
        & (lat <= CHINA_LAT[1])
    )
    accuracy = batch.accuracy_m
    bad_accuracy = ~np.isnan(accuracy) & ~((accuracy >= 0) & (accuracy <= 100_000))
    ok = inside & ~bad_accuracy
    rejected: list[Rejected] = []
    latest = now + CLOCK_SKEW
    for i in np.flatnonzero(~ok).tolist():
        device = batch.device_ids[i]
        if not finite[i]:
            rejected.append(Rejected(i, device, "lon/lat is not a number", "经纬度不是有效数字"))
        elif not inside[i]:
            rejected.append(
                Rejected(
                    i,
                    device,
                    f"({lon[i]:.6f}, {lat[i]:.6f}) lies outside China: check the order "
                    "(lon, lat) and the datum",
                    f"({lon[i]:.6f}, {lat[i]:.6f}) 不在中国境内：请检查经纬度顺序和坐标系",
                )
            )
        else:
            rejected.append(
                Rejected(i, device, "accuracy_m must be 0-100,000 m", "accuracy_m 须在 0-100000 米")
            )
    for i, at in enumerate(batch.at):
        if not ok[i]:
            continue
        if not DEVICE_ID.match(batch.device_ids[i]):
            ok[i] = False
            rejected.append(
                Rejected(
                    i,
                    batch.device_ids[i][:80],
                    "a device id is 1-64 letters, digits or . _ : -",
                    "终端编号须为 1-64 个字母、数字或 . _ : -",
                )
            )
        elif at.tzinfo is None or at.utcoffset() is None:
            ok[i] = False
            rejected.append(Rejected(i, batch.device_ids[i], "at has no time zone", "at 缺少时区"))
        elif at > latest:
            ok[i] = False
            rejected.append(
                Rejected(
                    i,
                    batch.device_ids[i],
                    f"at {at.isoformat()} lies in the future: check the device's clock",
                    f"时间 {at.isoformat()} 晚于当前时间：请检查终端时钟",
                )
            )
        elif at < oldest:
            ok[i] = False
            rejected.append(
                Rejected(
                    i,
                    batch.device_ids[i],
                    f"at {at.isoformat()} is older than the history kept",
                    f"时间 {at.isoformat()} 早于轨迹保留期限",
                )
            )
    return ok, rejected


def _fences(
    devices: _Devices, rows: NDArray[np.int64], plane: MetricPlane, session: Session
) -> Fences:
    """The fence of each report (``rows`` index ``devices``) on ``plane``."""
    person = devices.person_id > 0
    radius = np.where(person, devices.radius_m, np.nan)
    home = plane.to_plane(
        np.where(person, devices.home_lon, 0.0), np.where(person, devices.home_lat, 0.0)
    )
    polygons = np.full(len(devices.id), None, dtype=object)
    wanted = {
        int(devices.person_id[i]): int(i) for i in np.flatnonzero(devices.has_polygon & person)
    }
    missing: list[int] = []
    for person_id, i in wanted.items():
        cached = _polygon_cache.get(
            (person_id, int(devices.person_version[i]), devices.created[i], plane.epsg)
        )
        if cached is None:
            missing.append(person_id)
        else:
            polygons[i] = cached
    if missing:
        if len(_polygon_cache) > POLYGON_CACHE_MAX:
            _polygon_cache.clear()
        for row in session.execute(_POLYGONS, {"ids": int_array(missing)}):
            shape = shapely.from_wkb(bytes(row.wkb))
            xy = shapely.get_coordinates(shape)
            on_plane = shapely.set_coordinates(shape, plane.to_plane(xy[:, 0], xy[:, 1]))
            shapely.prepare(on_plane)
            i = wanted[int(row.id)]
            if int(row.version) == int(devices.person_version[i]):
                key = (int(row.id), int(row.version), devices.created[i], plane.epsg)
                _polygon_cache[key] = on_plane
            polygons[i] = on_plane
    return Fences(home[rows, 0], home[rows, 1], radius[rows], polygons[rows])


def _known(
    batch: PositionBatch,
    ok: NDArray[np.bool_],
    devices: _Devices,
    principal: Principal,
    rejected: list[Rejected],
) -> NDArray[np.int64]:
    """Each report's row in ``devices`` (-1: refused here: unknown, or outside the key's
    area; ``ok`` is cleared for those)."""
    index = {d: i for i, d in enumerate(devices.id)}
    covered = [principal.covers(code) for code in devices.area_code]
    row_of = np.full(len(batch), -1, dtype=np.int64)
    for i in np.flatnonzero(ok).tolist():
        device_id = batch.device_ids[i]
        j = index.get(device_id)
        if j is None:
            ok[i] = False
            rejected.append(
                Rejected(
                    i,
                    device_id,
                    f"no device has id {device_id!r}: register it first",
                    f"没有编号为 {device_id!r} 的终端：请先登记",
                )
            )
        elif not covered[j]:
            ok[i] = False
            rejected.append(
                Rejected(
                    i,
                    device_id,
                    f"device {device_id!r} is outside this key's area",
                    f"终端 {device_id!r} 不在此密钥的范围内",
                )
            )
        else:
            row_of[i] = j
    return row_of


def ingest(
    session: Session,
    principal: Principal,
    batch: PositionBatch,
    rules: FenceRules,
    *,
    retention: dt.timedelta,
    arrival_radius_m: float = 50.0,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Stores ``batch`` and moves every device it names on; see the module's docstring.

    A device that is not registered, or not in ``principal``'s area, has its reports
    refused (listed in the answer); the others are stored.
    """
    now = now or utc_now()
    n = len(batch)
    if not (len(batch.at) == n == len(batch.lon) == len(batch.lat) == len(batch.accuracy_m)):
        raise InvalidParameterError("a batch's columns differ in length")
    ok, rejected = _checked(batch, now, now - retention)
    ids = sorted({batch.device_ids[i] for i in np.flatnonzero(ok).tolist()})
    devices = _Devices.read(session, ids)
    row_of = _known(batch, ok, devices, principal, rejected)
    rejected.sort(key=lambda r: r.index)
    keep = np.flatnonzero(ok)
    if keep.size == 0:
        return IngestResult(n, 0, 0, rejected)

    lon, lat = to_wgs84(batch.lon[keep], batch.lat[keep], batch.datum)
    at = [batch.at[i] for i in keep.tolist()]
    epoch = np.fromiter((a.timestamp() for a in at), dtype=np.float64, count=len(at))
    accuracy = batch.accuracy_m[keep]
    device_ids = [batch.device_ids[i] for i in keep.tolist()]
    rows = row_of[keep]
    # A report newer than its device's last one cannot be stored yet (nothing newer is):
    # those go in plainly, once each; the older ones (a batch sent again) may be.
    first = np.zeros(len(keep), dtype=bool)
    seen: set[tuple[str, float]] = set()
    for k, pair in enumerate(zip(device_ids, epoch.tolist(), strict=True)):
        if pair not in seen:
            seen.add(pair)
            first[k] = True
    newer = first & ~(epoch <= devices.last_at[rows])  # NaN (never reported): newer
    stored = 0
    for statement, which in ((_STORE_NEW, newer), (_STORE, first & ~newer)):
        if which.any():
            stored += _store(
                session, statement, batch.datum, which, device_ids, epoch, lon, lat, accuracy
            )

    plane = MetricPlane.around(float(np.median(lon)))
    xy = plane.to_plane(lon, lat)
    outside_m = outside_by(_fences(devices, rows, plane, session), xy[:, 0], xy[:, 1])
    verdict = verdicts(outside_m, accuracy, rules)

    # Each device's reports newer than its last one, in time order.
    moving = np.flatnonzero(newer)
    order = moving[np.lexsort((epoch[moving], rows[moving]))]
    group_rows = rows[order]
    ends = np.append(np.flatnonzero(np.diff(group_rows)), len(order) - 1)[: len(order)]
    starts = np.append(0, ends[:-1] + 1)[: len(ends)]
    last = order[ends]  # each moving device's newest report
    moved = group_rows[ends]
    states = [devices.state[j] for j in moved.tolist()]
    streaks = devices.streak[moved].copy()
    raised: list[alarms.Leaving] = []
    returned: list[tuple[int, dt.datetime]] = []
    fenced = devices.person_id[moved] > 0
    said = verdict[order]
    # A device with one report that leaves its state and count as they are (in the band,
    # or agreeing with a count of 0: nearly every report) needs no walk through the rules.
    first_said = said[starts]
    inside_now = np.array([st == INSIDE_STATE for st in states], dtype=bool)
    agrees = np.where(inside_now, first_said == Verdict.INSIDE, first_said == Verdict.OUTSIDE)
    still = (ends == starts) & ((first_said == Verdict.BAND) | (agrees & (streaks == 0)))
    for k in np.flatnonzero(fenced & ~still).tolist():
        lo, hi = int(starts[k]), int(ends[k]) + 1
        state = FenceState(states[k], int(streaks[k]))
        changes = advance(state, said[lo:hi].tolist(), rules)
        states[k], streaks[k] = state.state, state.streak
        person_id = int(devices.person_id[moved[k]])
        for position, to in changes:
            g = int(order[lo + position])
            if to == OUTSIDE_STATE:
                raised.append(
                    alarms.Leaving(
                        person_id, at[g], float(lon[g]), float(lat[g]), float(outside_m[g])
                    )
                )
            elif to == INSIDE_STATE:
                returned.append((person_id, at[g]))
    if len(moved):
        session.execute(
            _UPDATE,
            {
                "d": text_array([devices.id[j] for j in moved.tolist()]),
                "a": float_array(epoch[last]),
                "x": float_array(lon[last]),
                "y": float_array(lat[last]),
                "acc": float_array(accuracy[last]),
                "s": text_array(states),
                "k": int_array(streaks),
            },
        )
    workers = devices.worker_id[rows[moving]]
    if (workers > 0).any():
        mine = moving[workers > 0]
        session.execute(
            _ARRIVALS,
            {
                "w": int_array(devices.worker_id[rows[mine]]),
                "a": float_array(epoch[mine]),
                "x": float_array(lon[mine]),
                "y": float_array(lat[mine]),
                "r": arrival_radius_m,
            },
        )
    raised_alarms = alarms.raise_alarms(session, principal, raised) if raised else []
    if returned:
        alarms.mark_returned(session, returned)
    return IngestResult(
        n, int(stored), int(keep.size - stored), rejected, raised_alarms, len(returned)
    )
