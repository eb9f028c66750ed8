"""Coverage models kept in memory and kept current from the database's notifications.

One model per (facility type, radius), built on first request from areas and
buildings read once; triggers ``pg_notify`` every committed change and a
listener thread applies it to the cached models incrementally, or drops them
when a rebuild is cheaper. A model is cached only while the listener
listens, so a missed notification never leaves a stale answer. The rules per
change and the locking are in ``docs/coverage.md``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import itertools
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

import numpy as np
import psycopg
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, text

from gis.areas.hierarchy import AreaTables, load_areas
from gis.coverage.catalogue import CoverageMethod, check_radius
from gis.coverage.network import WalkContext, load_walk
from gis.coverage.store import BuildingArrays, CoverageModel, build_coverage, load_buildings
from gis.db.engine import connect_params
from gis.geo.metric import MetricPlane
from gis.settings import WalkSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "gridmap_changes"
"""The notification channel the triggers of migration 0002 write to."""
MAX_MODELS = 32
"""Models kept at once (least recently used dropped first); each holds a few
arrays the size of the building table."""
POLL_SECONDS = 0.5
"""How long the listener waits for a notification before checking whether to stop."""
START_TIMEOUT_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 4.0
"""Longest wait between reconnection attempts while the database is away, so the
caches are back in use a few seconds after it returns."""


@dataclass
class _Base:
    """What every model is built from: read once, shared by all models."""

    areas: AreaTables
    buildings: BuildingArrays
    order: NDArray[np.int64] = field(init=False)
    """Building rows sorted by id, to find a building's row by its id."""
    grid_row: dict[int, int] = field(init=False)
    """Grid id → index into ``areas``."""
    walk: WalkContext | None = None
    """The walking network and these buildings joined to it, read on the first walking question."""

    def __post_init__(self) -> None:
        self.order = np.argsort(self.buildings.ids, kind="stable")
        self.grid_row = {int(g): i for i, g in enumerate(self.areas.grid_ids)}

    def building_row(self, building_id: int) -> int | None:
        ids = self.buildings.ids
        pos = int(np.searchsorted(ids, building_id, sorter=self.order))
        if pos < len(ids) and ids[self.order[pos]] == building_id:
            return int(self.order[pos])
        return None


@dataclass
class _Counters:
    hits: int = 0
    misses: int = 0
    builds: int = 0
    build_ms_last: float | None = None
    notifications: int = 0
    incremental_updates: int = 0
    invalidations: int = 0
    last_change: dict[str, Any] | None = None


@dataclass
class _Entry:
    """A cached model, the build it came from and how many changes it has taken since."""

    model: CoverageModel
    serial: int
    revision: int = 0

    @property
    def version(self) -> tuple[int, int]:
        return (self.serial, self.revision)


def snapshot(model: CoverageModel) -> CoverageModel:
    """A copy of ``model`` that later changes to the original do not reach.

    Only what a change mutates in place is copied (a few arrays the size of
    the buildings and facilities); coordinates and KD-trees are shared, as
    changes replace rather than mutate them.
    """
    index = copy.copy(model.index)
    for name in index.MUTABLE:
        setattr(index, name, getattr(model.index, name).copy())
    index.slot_of = dict(model.index.slot_of)
    return replace(model, index=index)


def _radius_key(radius_m: float) -> float:
    return round(float(radius_m), 3)


ModelKey = tuple[str, float, CoverageMethod]
_Version = tuple[int, int]
WALK_TABLES = ("walk_edge", "walk_barrier")
"""Tables whose change replaces the walking network: walking models are rebuilt."""
COVERAGE_TABLES = frozenset(
    {"facility", "facility_type", "building", "grid", "admin_area", *WALK_TABLES}
)
"""The tables coverage is computed from. Other tables notify the same channel (incidents,
people, tiles' layers), and some on a facility's change (a residents' item referring to
it is set null in its own statement): those concern no model and are not its last
change."""


STATS_WAIT_S = 0.05
"""How long a status read waits for the lock before it reads the figures as they stand."""


class CoverageService:
    """A process-wide cache of coverage models, kept current by LISTEN/NOTIFY.

    ``start()`` (in the app's lifespan) opens the listener; ``stop()`` closes
    it. Without ``start()`` nothing is cached and every request builds afresh.
    """

    def __init__(
        self, engine: Engine, *, max_models: int = MAX_MODELS, max_leg_m: float | None = None
    ) -> None:
        self._engine = engine
        self._max_models = max_models
        self._max_leg_m = WalkSettings().max_leg_m if max_leg_m is None else float(max_leg_m)
        self._lock = threading.RLock()
        self._models: OrderedDict[ModelKey, _Entry] = OrderedDict()
        self._derived: dict[tuple[str, float, CoverageMethod, str], tuple[_Version, Any]] = {}
        self._serials = itertools.count(1)
        self._base: _Base | None = None
        self._counters = _Counters()
        self._listening = threading.Event()
        self._attempted = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._barriers: dict[str, threading.Event] = {}
        self._wake_token = uuid.uuid4().hex

    # --- lifecycle -------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> bool:
        """Start listening; True once LISTEN is active.

        Waits for the first connection attempt (at most ``timeout`` seconds).
        If it fails, the listener keeps retrying in the background and the
        app answers coverage requests uncached meanwhile.
        """
        if self._thread is None or not self._thread.is_alive():
            self._stopping.clear()
            self._attempted.clear()
            self._thread = threading.Thread(
                target=self._listen, name="gridmap-coverage-listener", daemon=True
            )
            self._thread.start()
        self._attempted.wait(timeout)
        return self.listening

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the listener and drop every cached model."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        if thread.is_alive() and self._listening.is_set():
            with contextlib.suppress(Exception):
                self._notify({"op": "wake", "token": self._wake_token})
        thread.join(timeout)
        self._thread = None
        self.refresh()

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def refresh(self) -> None:
        """Drop every cached model and the shared building arrays; the next request rebuilds."""
        with self._lock:
            self._drop(base=True)

    # --- reading -----------------------------------------------------------------------
    @contextlib.contextmanager
    def view(
        self,
        type_code: str,
        radius_m: float,
        conn: Connection | None = None,
        method: CoverageMethod = "circle",
    ) -> Iterator[CoverageModel]:
        """The model of ``type_code`` at ``radius_m`` metres, locked while the block runs.

        A missing model is built from ``conn`` (the caller's connection, so a
        request sees its own transaction) or a fresh connection of the engine.
        Hold the model only inside the block: the listener may change it after.
        ``method="network"`` measures walks (``NoNetworkError`` without a network).
        """
        with self._lock:
            yield self._entry(type_code, radius_m, conn, method).model

    def derived(
        self,
        type_code: str,
        radius_m: float,
        name: str,
        compute: Callable[[CoverageModel], T],
        conn: Connection | None = None,
        method: CoverageMethod = "circle",
    ) -> T:
        """``compute(model)``, remembered until the model changes.

        For slow answers (blind spots: a second or two of polygon unions):
        ``compute`` runs on a :func:`snapshot`, outside the lock, so what-if
        questions and changes are not held up meanwhile, and its result is
        reused until a change reaches the model.
        """
        key: ModelKey = (type_code, _radius_key(radius_m), method)
        with self._lock:
            entry = self._entry(type_code, radius_m, conn, method)
            version = entry.version
            known = self._derived.get((*key, name))
            if known is not None and known[0] == version:
                return cast(T, known[1])
            copied = snapshot(entry.model)
        value = compute(copied)
        with self._lock:
            current = self._models.get(key)
            if current is not None and current.version == version:
                self._derived[(*key, name)] = (version, value)
        return value

    def _entry(
        self,
        type_code: str,
        radius_m: float,
        conn: Connection | None,
        method: CoverageMethod = "circle",
    ) -> _Entry:
        check_radius(radius_m)
        key: ModelKey = (type_code, _radius_key(radius_m), method)
        entry = self._models.get(key) if self.listening else None
        if entry is not None:
            self._counters.hits += 1
            self._models.move_to_end(key)
            return entry
        self._counters.misses += 1
        return self._build(key, conn)

    def coverage_model(
        self,
        type_code: str,
        radius_m: float,
        conn: Connection | None = None,
        method: CoverageMethod = "circle",
    ) -> CoverageModel:
        """The current model (unlocked: read it under :meth:`view` if the listener runs)."""
        with self.view(type_code, radius_m, conn, method) as model:
            return model

    def stats(self) -> dict[str, Any]:
        """Cache hits and misses, builds, changes applied, the last change and its lag.

        Never waits behind a model being built (seconds, under the lock): a status
        read is light work. Then the figures are read as they stand, without the
        lock, and ``building`` says a build is under way.
        """
        locked = self._lock.acquire(timeout=STATS_WAIT_S)
        try:
            c = self._counters
            models = list(self._models.items())
            return {
                "listening": self.listening,
                "building": not locked,
                "models": {
                    f"{t}@{r:g}" + ("" if m == "circle" else f"/{m}"): e.revision
                    for (t, r, m), e in models
                },
                "buildings": len(self._base.buildings.ids) if self._base else None,
                "hits": c.hits,
                "misses": c.misses,
                "builds": c.builds,
                "build_ms_last": c.build_ms_last,
                "notifications": c.notifications,
                "incremental_updates": c.incremental_updates,
                "invalidations": c.invalidations,
                "last_change": dict(c.last_change) if c.last_change else None,
            }
        finally:
            if locked:
                self._lock.release()

    def sync(self, timeout: float = 2.0) -> bool:
        """Wait until every change committed before this call has been applied.

        Sends a marker notification; notifications arrive in commit order, so
        once the listener has seen the marker it has applied what came before.
        A write handler calls this after its commit so that its caller's next
        request sees the change. False if not listening or on timeout.
        """
        if not self.listening:
            return False
        token = uuid.uuid4().hex
        event = threading.Event()
        self._barriers[token] = event
        try:
            self._notify({"op": "sync", "token": token})
            return event.wait(timeout)
        except Exception as exc:  # the caller's write is committed: do not fail it now
            log.warning("could not sync the coverage caches (%s)", exc)
            return False
        finally:
            self._barriers.pop(token, None)

    # --- building ------------------------------------------------------------------------
    def _build(self, key: ModelKey, conn: Connection | None) -> _Entry:
        type_code, radius_m, method = key
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self._engine.connect())
            started = time.perf_counter()
            base = self._base
            if base is None:
                areas = load_areas(conn)
                base = _Base(areas, load_buildings(conn, areas))
            walk = None
            if method == "network":
                walk = base.walk
                if walk is None:
                    plane = MetricPlane.around(base.areas.centre_lon)
                    walk = load_walk(conn, plane, base.buildings.plane_xy(plane), self._max_leg_m)
            model = build_coverage(conn, type_code, radius_m, base.areas, base.buildings, walk=walk)
            self._counters.builds += 1
            self._counters.build_ms_last = round((time.perf_counter() - started) * 1000, 1)
        entry = _Entry(model, next(self._serials))
        if self.listening:
            if walk is not None:
                base.walk = walk
            self._base = base
            self._models[key] = entry
            while len(self._models) > self._max_models:
                self._models.popitem(last=False)
        return entry

    def _drop(self, base: bool) -> None:
        self._models.clear()
        self._derived.clear()
        if base:
            self._base = None

    def _drop_walks(self) -> None:
        """A new walking network: walking models and the buildings' attachments go."""
        for key in [k for k in self._models if k[2] == "network"]:
            del self._models[key]
        for derived in [k for k in self._derived if k[2] == "network"]:
            del self._derived[derived]
        if self._base is not None:
            self._base.walk = None

    # --- listening -----------------------------------------------------------------------
    def _notify(self, payload: dict[str, Any]) -> None:
        with self._engine.connect() as conn:
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": json.dumps(payload)},
            )
            conn.commit()

    def _listen(self) -> None:
        """Listen until stopped; after a lost connection, reconnect with backoff.

        Notifications sent while no one listened are lost, so every
        (re)connection starts from empty caches: what was missed is caught up
        by rebuilding on the next request, never by trusting the old models.
        """
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                params = connect_params(self._engine)  # the port the engine would use now
                with (
                    psycopg.connect(**params, autocommit=True) as listener,
                    psycopg.connect(**params, autocommit=True) as reader,
                ):
                    listener.execute(f"LISTEN {CHANNEL}")
                    _warm_up(reader)
                    with self._lock:
                        self._drop(base=True)  # anything cached before LISTEN may be stale
                    self._listening.set()
                    self._attempted.set()
                    backoff = 0.5
                    while not self._stopping.is_set():
                        batch = list(listener.notifies(timeout=POLL_SECONDS, stop_after=1))
                        if batch:
                            batch += list(listener.notifies(timeout=0))
                            self._handle([n.payload for n in batch], reader)
            except Exception as exc:  # the listener must outlive any failure
                if not self._stopping.is_set():
                    log.warning(
                        "coverage listener lost its connection (%s); retrying in %.1f s",
                        exc,
                        backoff,
                    )
            finally:
                self._listening.clear()
                self._attempted.set()
                with self._lock:
                    self._drop(base=True)
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _handle(self, payloads: Sequence[str], reader: psycopg.Connection[Any]) -> None:
        changes: list[dict[str, Any]] = []
        tokens: list[str] = []
        for payload in payloads:
            try:
                message = json.loads(payload)
            except ValueError:
                log.warning("ignoring a malformed notification on %s: %.200s", CHANNEL, payload)
                continue
            if message.get("op") == "sync":
                tokens.append(str(message.get("token")))
            elif message.get("table") in COVERAGE_TABLES:
                changes.append(message)
        if changes:
            try:
                with self._lock:
                    self.apply_changes(changes, reader)
            except Exception:
                log.exception("could not apply coverage changes; dropping the caches")
                with self._lock:
                    self._drop(base=True)
        for token in tokens:
            event = self._barriers.get(token)
            if event is not None:
                event.set()

    def apply_changes(
        self, changes: Sequence[dict[str, Any]], reader: psycopg.Connection[Any]
    ) -> None:
        """Apply notified changes (``{op, table, id, ts}``) to the cached models.

        ``reader`` is a connection on which the changed rows are read back in
        their committed state. Called by the listener with the lock held.
        """
        started = time.time()
        with self._lock:
            self._counters.notifications += len(changes)
            mode = self._apply(changes, reader)
            last = changes[-1]
            ts = last.get("ts")
            applied = time.time()
            self._counters.last_change = {
                "table": last.get("table"),
                "op": last.get("op"),
                "id": last.get("id"),
                "changes": len(changes),
                "mode": mode,
                "applied_at": dt.datetime.fromtimestamp(applied, dt.UTC).isoformat(),
                "apply_ms": round((applied - started) * 1000, 2),
                "lag_ms": round((applied - float(ts)) * 1000, 2)
                if isinstance(ts, int | float)
                else None,
            }

    def _apply(self, changes: Sequence[dict[str, Any]], reader: psycopg.Connection[Any]) -> str:
        """``incremental``, ``rebuild`` (caches dropped) or ``none`` (nothing cached touched)."""
        if not self._models and self._base is None:
            return "none"
        facility_ids: set[int] = set()
        building_ids: set[int] = set()
        walks_dropped = False
        for change in changes:
            table, op, ident = change.get("table"), change.get("op"), change.get("id")
            if table in WALK_TABLES:
                if not walks_dropped:
                    self._drop_walks()
                    self._counters.invalidations += 1
                    walks_dropped = True
                continue
            if table in ("grid", "admin_area") or (
                table == "building" and (ident is None or op != "update")
            ):
                return self._invalidate(base=True)
            if table == "facility_type" or (table == "facility" and ident is None):
                return self._invalidate(base=False)
            if table == "facility" and ident is not None:
                facility_ids.add(int(ident))
            elif table == "building" and ident is not None:
                building_ids.add(int(ident))
        touched = False
        if building_ids and self._base is not None:
            outcome = self._apply_buildings(sorted(building_ids), reader)
            if outcome is None:
                return self._invalidate(base=True)
            touched |= outcome
        if facility_ids and self._models:
            touched |= self._apply_facilities(sorted(facility_ids), reader)
        if touched:
            self._counters.incremental_updates += 1
            return "incremental"
        return "rebuild" if walks_dropped else "none"

    def _invalidate(self, base: bool) -> str:
        self._drop(base)
        self._counters.invalidations += 1
        return "rebuild"

    def _apply_buildings(self, ids: list[int], reader: psycopg.Connection[Any]) -> bool | None:
        """Household changes applied in place; None if a building moved, changed grid or is new."""
        assert self._base is not None
        base = self._base
        rows = reader.execute(
            "SELECT id, households, grid_id, ST_X(location), ST_Y(location)"
            " FROM building WHERE id = ANY(%s)",
            (ids,),
        ).fetchall()
        if len(rows) != len(ids):
            return None  # deleted since: the building arrays no longer match
        touched = False
        for building_id, households, grid_id, lon, lat in rows:
            row = base.building_row(int(building_id))
            if row is None:
                if int(grid_id) in base.grid_row:
                    return None  # a building of a current grid that the arrays lack
                continue  # not in a current grid: not counted anywhere
            b = base.buildings
            if (
                base.grid_row.get(int(grid_id)) != int(b.grid[row])
                or float(lon) != float(b.lon[row])
                or float(lat) != float(b.lat[row])
            ):
                return None
            if int(households) != int(b.households[row]):
                b.households[row] = int(households)
                for entry in self._models.values():
                    entry.model.index.set_households(row, int(households))
                    entry.revision += 1
                touched = True
        return touched

    def _apply_facilities(self, ids: list[int], reader: psycopg.Connection[Any]) -> bool:
        """Reconcile each cached model with the facilities' committed rows."""
        rows = {
            int(r[0]): (str(r[1]), float(r[2]), float(r[3]))
            for r in reader.execute(
                "SELECT id, type_code, ST_X(geom), ST_Y(geom) FROM facility WHERE id = ANY(%s)",
                (ids,),
            )
        }
        touched = False
        for entry in self._models.values():
            changed = False
            for facility_id in ids:
                changed |= _reconcile(entry.model, facility_id, rows.get(facility_id))
            if changed:
                entry.revision += 1
            touched |= changed
        return touched


def _warm_up(reader: psycopg.Connection[Any]) -> None:
    """Pay one-off costs now rather than on the first change (~0.1 s each).

    PostGIS loads into the reader's backend on first use, and PROJ opens its
    database once per thread.
    """
    reader.execute("SELECT ST_X('POINT(0 0)'::geometry)").fetchall()
    MetricPlane.around(120.0).to_plane([120.0], [36.0])


def _reconcile(
    model: CoverageModel, facility_id: int, row: tuple[str, float, float] | None
) -> bool:
    """Make ``model`` hold the facility as stored (``row`` None: deleted); True if it changed."""
    index = model.index
    slot = index.slot_of.get(facility_id)
    open_here = slot is not None and bool(index.active[slot])
    if row is not None and row[0] == model.type_code:
        xy = model.plane.to_plane([row[1]], [row[2]])[0]
        if open_here:
            assert slot is not None
            if np.abs(index.fxy[slot] - xy).max() < 1e-6:  # metres: not moved
                return False
            index.move_facility(facility_id, xy)
        else:
            index.add_facility(facility_id, xy)
        return True
    if open_here:
        index.remove_facility(facility_id)
        return True
    return False
