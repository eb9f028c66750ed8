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
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.care import alarms
from gis.care.fences import (
    INSIDE_STATE,
    OUTSIDE_STATE,
    FenceRules,
    Fences,
    FenceState,
    advance,
    outside_by,
    verdicts,
)
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
class _Device:
    """A device row as the batch needs it."""

    id: str
    person_id: int | None
    worker_id: int | None
    area_code: str | None
    last_at: dt.datetime | None
    state: str
    streak: int
    person_version: int | None
    radius_m: float
    home_lon: float
    home_lat: float
    has_polygon: bool


_DEVICES = text(
    """SELECT d.id, d.person_id, d.worker_id, coalesce(g.code, a.code) AS area_code, d.last_at,
              d.fence_state AS state, d.fence_streak AS streak, p.version AS person_version,
              p.safe_radius_m AS radius_m, ST_X(b.location) AS home_lon,
              ST_Y(b.location) AS home_lat, p.safe_area IS NOT NULL AS has_polygon
       FROM device d
       LEFT JOIN person p ON p.id = d.person_id
       LEFT JOIN building b ON b.id = p.building_id
       LEFT JOIN grid g ON g.id = p.grid_id
       LEFT JOIN care_worker w ON w.id = d.worker_id
       LEFT JOIN admin_area a ON a.id = w.community_id
       WHERE d.id = ANY(:ids)
       ORDER BY d.id
       FOR UPDATE OF d"""
)

_STORE = text(
    """INSERT INTO position_report (device_id, at, geom, accuracy_m, datum)
       SELECT u.d, u.a, ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), u.acc, :datum
       FROM unnest(CAST(:d AS text[]), CAST(:a AS timestamptz[]), CAST(:x AS float8[]),
                   CAST(:y AS float8[]), CAST(:acc AS float8[])) AS u(d, a, x, y, acc)
       ON CONFLICT (device_id, at) DO NOTHING"""
)

_UPDATE = text(
    """UPDATE device d
       SET last_at = u.a, last_geom = ST_SetSRID(ST_MakePoint(u.x, u.y), 4326),
           last_accuracy_m = u.acc, fence_state = u.s, fence_streak = u.k
       FROM unnest(CAST(:d AS text[]), CAST(:a AS timestamptz[]), CAST(:x AS float8[]),
                   CAST(:y AS float8[]), CAST(:acc AS float8[]), CAST(:s AS text[]),
                   CAST(:k AS int2[])) AS u(d, a, x, y, acc, s, k)
       WHERE d.id = u.d"""
)

_ARRIVALS = text(
    """UPDATE emergency_call c SET arrived_at = greatest(u.a, c.dispatched_at)
       FROM unnest(CAST(:w AS int[]), CAST(:a AS timestamptz[]), CAST(:x AS float8[]),
                   CAST(:y AS float8[])) AS u(w, a, x, y)
       WHERE c.worker_id = u.w AND c.arrived_at IS NULL AND c.closed_at IS NULL
         AND u.a >= c.dispatched_at
         AND ST_DWithin(c.geom::geography,
                        ST_SetSRID(ST_MakePoint(u.x, u.y), 4326)::geography, :r)"""
)
"""A dispatched worker's report within the arrival radius of their open call records the
arrival (``gis.care.emergency``)."""

_POLYGONS = text(
    "SELECT id, version, ST_AsBinary(safe_area) AS wkb FROM person "
    "WHERE id = ANY(:ids) AND safe_area IS NOT NULL"
)

_polygon_cache: dict[tuple[int, int, int], shapely.Polygon] = {}
POLYGON_CACHE_MAX = 50_000
"""Safe-area polygons kept on their plane, by (person, version, zone): a changed person
has a new version, so a stale polygon is never used, only left to be evicted."""


def _reject(index: int, device_id: str, en: str, zh: str) -> Rejected:
    return Rejected(index, device_id, en, zh)


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
            rejected.append(_reject(i, device, "lon/lat is not a number", "经纬度不是有效数字"))
        elif not inside[i]:
            rejected.append(
                _reject(
                    i,
                    device,
                    f"({lon[i]:.6f}, {lat[i]:.6f}) lies outside China: check the order "
                    "(lon, lat) and the datum",
                    f"({lon[i]:.6f}, {lat[i]:.6f}) 不在中国境内：请检查经纬度顺序和坐标系",
                )
            )
        else:
            rejected.append(
                _reject(i, device, "accuracy_m must be 0-100,000 m", "accuracy_m 须在 0-100000 米")
            )
    for i, at in enumerate(batch.at):
        if not ok[i]:
            continue
        if at.tzinfo is None or at.utcoffset() is None:
            ok[i] = False
            rejected.append(_reject(i, batch.device_ids[i], "at has no time zone", "at 缺少时区"))
        elif at > latest:
            ok[i] = False
            rejected.append(
                _reject(
                    i,
                    batch.device_ids[i],
                    f"at {at.isoformat()} lies in the future: check the device's clock",
                    f"时间 {at.isoformat()} 晚于当前时间：请检查终端时钟",
                )
            )
        elif at < oldest:
            ok[i] = False
            rejected.append(
                _reject(
                    i,
                    batch.device_ids[i],
                    f"at {at.isoformat()} is older than the history kept",
                    f"时间 {at.isoformat()} 早于轨迹保留期限",
                )
            )
    return ok, rejected


def _fences(
    devices: list[_Device], rows: NDArray[np.int64], plane: MetricPlane, session: Session
) -> Fences:
    """The fence of each report (``rows`` index ``devices``) on ``plane``."""
    radius = np.array([d.radius_m if d.person_id else np.nan for d in devices], dtype=float)
    home_lon = np.array([d.home_lon if d.person_id else 0.0 for d in devices], dtype=float)
    home_lat = np.array([d.home_lat if d.person_id else 0.0 for d in devices], dtype=float)
    home = plane.to_plane(home_lon, home_lat)
    polygons = np.full(len(devices), None, dtype=object)
    wanted = {
        d.person_id: i
        for i, d in enumerate(devices)
        if d.has_polygon and d.person_id is not None and d.person_version is not None
    }
    missing: list[int] = []
    for person_id, i in wanted.items():
        key = (person_id, int(devices[i].person_version or 0), plane.epsg)
        cached = _polygon_cache.get(key)
        if cached is None:
            missing.append(person_id)
        else:
            polygons[i] = cached
    if missing:
        if len(_polygon_cache) > POLYGON_CACHE_MAX:
            _polygon_cache.clear()
        for row in session.execute(_POLYGONS, {"ids": missing}):
            shape = shapely.from_wkb(bytes(row.wkb))
            xy = shapely.get_coordinates(shape)
            flat = plane.to_plane(xy[:, 0], xy[:, 1])
            on_plane = shapely.set_coordinates(shape, flat)
            shapely.prepare(on_plane)
            _polygon_cache[(int(row.id), int(row.version), plane.epsg)] = on_plane
            polygons[wanted[int(row.id)]] = on_plane
    return Fences(home[rows, 0], home[rows, 1], radius[rows], polygons[rows])


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
    devices = [_Device(**row._asdict()) for row in session.execute(_DEVICES, {"ids": ids})]
    index = {d.id: i for i, d in enumerate(devices)}
    row_of = np.full(n, -1, dtype=np.int64)
    for i in np.flatnonzero(ok).tolist():
        device_id = batch.device_ids[i]
        j = index.get(device_id)
        if j is None:
            ok[i] = False
            rejected.append(
                _reject(
                    i,
                    device_id,
                    f"no device has id {device_id!r}: register it first",
                    f"没有编号为 {device_id!r} 的终端：请先登记",
                )
            )
        elif not principal.covers(devices[j].area_code):
            ok[i] = False
            rejected.append(
                _reject(
                    i,
                    device_id,
                    f"device {device_id!r} is outside this key's area",
                    f"终端 {device_id!r} 不在此密钥的范围内",
                )
            )
        else:
            row_of[i] = j
    rejected.sort(key=lambda r: r.index)
    keep = np.flatnonzero(ok)
    if keep.size == 0:
        return IngestResult(n, 0, 0, rejected)

    lon, lat = to_wgs84(batch.lon[keep], batch.lat[keep], batch.datum)
    at = [batch.at[i] for i in keep.tolist()]
    accuracy = batch.accuracy_m[keep]
    device_ids = [batch.device_ids[i] for i in keep.tolist()]
    accuracy_list: list[float | None] = [None if np.isnan(a) else float(a) for a in accuracy]
    stored = (
        session.connection()
        .execute(
            _STORE,
            {
                "d": device_ids,
                "a": at,
                "x": lon.tolist(),
                "y": lat.tolist(),
                "acc": accuracy_list,
                "datum": batch.datum.kind.value,
            },
        )
        .rowcount
    )

    rows = row_of[keep]
    plane = MetricPlane.around(float(np.median(lon)))
    xy = plane.to_plane(lon, lat)
    outside_m = outside_by(_fences(devices, rows, plane, session), xy[:, 0], xy[:, 1])
    verdict = verdicts(outside_m, accuracy, rules)

    # Each device's reports newer than its last one, in time order.
    at_ns = np.array([a.timestamp() for a in at], dtype=float)
    order = np.lexsort((at_ns, rows))
    updates: dict[str, Any] = {k: [] for k in ("d", "a", "x", "y", "acc", "s", "k")}
    arrivals: dict[str, list[Any]] = {k: [] for k in ("w", "a", "x", "y")}
    raised: list[alarms.Leaving] = []
    returned: list[tuple[int, dt.datetime]] = []
    start = 0
    sorted_rows = rows[order]
    for stop in [*np.flatnonzero(np.diff(sorted_rows)).tolist(), len(order) - 1]:
        group = order[start : stop + 1]
        start = stop + 1
        device = devices[int(rows[group[0]])]
        newer = [g for g in group.tolist() if device.last_at is None or at[g] > device.last_at]
        if not newer:
            continue
        state = FenceState(device.state, device.streak)
        if device.worker_id is not None:
            for g in newer:
                arrivals["w"].append(device.worker_id)
                arrivals["a"].append(at[g])
                arrivals["x"].append(float(lon[g]))
                arrivals["y"].append(float(lat[g]))
        if device.person_id is not None:
            for position, to in advance(state, [int(verdict[g]) for g in newer], rules):
                g = newer[position]
                if to == OUTSIDE_STATE:
                    raised.append(
                        alarms.Leaving(
                            device.person_id,
                            at[g],
                            float(lon[g]),
                            float(lat[g]),
                            float(outside_m[g]),
                        )
                    )
                elif to == INSIDE_STATE:
                    returned.append((device.person_id, at[g]))
        last = newer[-1]
        updates["d"].append(device.id)
        updates["a"].append(at[last])
        updates["x"].append(float(lon[last]))
        updates["y"].append(float(lat[last]))
        updates["acc"].append(accuracy_list[last])
        updates["s"].append(state.state)
        updates["k"].append(state.streak)
    if updates["d"]:
        session.execute(_UPDATE, updates)
    if arrivals["w"]:
        session.execute(_ARRIVALS, {**arrivals, "r": arrival_radius_m})
    raised_alarms = alarms.raise_alarms(session, principal, raised) if raised else []
    if returned:
        alarms.mark_returned(session, returned)
    return IngestResult(
        n, int(stored), int(keep.size - stored), rejected, raised_alarms, len(returned)
    )
