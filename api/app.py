"""The FastAPI application: GeoJSON API under /api/v1, the map at /, docs at /docs.

``create_app`` builds it; with no engine given, the lifespan connects to
``DATABASE_URL`` or starts the program's own PostGIS (and brings its schema up
to date as the owner), serves as the application's role ``gridmap_app``
(``gis.db.roles``: ``GRIDMAP_APP_DATABASE_URL`` on another server) and
disposes of its engine at shutdown. Run it with
``uvicorn --factory api.app:create_app``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.pool import NullPool

from api.error_docs import document_errors
from api.errors import register_error_handlers, register_error_shape
from api.limits import heavy_work_cap
from api.open311 import render as open311_render
from api.routes import (
    auth,
    basemap,
    care,
    coverage,
    coverage_takeaway,
    coverage_walk,
    exports,
    facilities,
    features,
    field,
    health,
    incident_pages,
    incident_statistics,
    incidents,
    login_pages,
    mediation_units,
    norms,
    ogc,
    open311,
    participation,
    participation_import,
    people,
    photos,
    tiles,
    web,
    whereabouts,
)
from api.security import register_middleware
from api.warm_tiles import WarmTiles
from gis.accounts import audit
from gis.basemap import sources
from gis.care.dispatch import WalkNetworks
from gis.care.retention import RetentionSweeper
from gis.coverage.live import CoverageService
from gis.db import schema
from gis.db.embedded import EmbeddedPostgres, database_url
from gis.db.engine import make_engine, make_sessionmaker
from gis.db.probe import ServerProbe
from gis.db.roles import app_database_url
from gis.db.timeouts import bound_statements
from gis.incidents.escalation import EscalationSweeper
from gis.settings import (
    BasemapSettings,
    CareSettings,
    DatabaseSettings,
    IncidentSettings,
    ServerSettings,
    TileSettings,
)
from gis.tiles.service import TileService

GIL_SWITCH_INTERVAL_S = 0.001
"""How long a thread may hold the GIL while another waits for it (Python's default is
5 ms). The event loop needs the GIL a dozen times to answer one request, and heavy
analyses run in worker threads: at 5 ms per hand-over /healthz waited up to a quarter
of a second behind a burst of them (tests/api/test_burst.py); at 1 ms the loop gets
its turn five times sooner, and the analyses lose a few percent to the extra switches."""

STATIC_DIR = Path(__file__).parent / "static"

DESCRIPTION = """
Community grid management (网格化管理): districts, subdistricts, communities,
grids, buildings, service facilities and incidents as GeoJSON.

Collections answer `FeatureCollection`s with `numberMatched` (all matching
features), `numberReturned` and `next`/`prev` links; page with `limit` and
`offset`, filter with `bbox=minLon,minLat,maxLon,maxLat` (WGS84). Errors are
JSON: `{"status", "code", "description"}`.
"""


def _attach_engine(app: FastAPI, engine: Engine) -> None:
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    bound_statements(app.state.sessionmaker)  # each request's timeout, api.limits
    app.state.coverage = CoverageService(engine)
    app.state.probe = ServerProbe(engine)
    tile_settings = TileSettings()
    app.state.tiles = TileService(
        engine, cache_mb=tile_settings.cache_mb, draws=tile_settings.draws
    )
    # Emergency dispatch walks the network, read once and dropped when it changes.
    feed = app.state.tiles.feed
    app.state.walk_networks = WalkNetworks(lambda: feed.listening)
    feed.subscribe(app.state.walk_networks.changed, app.state.walk_networks.clear)


async def _close_probe(app: FastAPI) -> None:
    probe: ServerProbe | None = getattr(app.state, "probe", None)
    if probe is not None:
        await probe.close()


@contextlib.contextmanager
def _overdue_cases_escalated(engine: Engine, incident_settings: IncidentSettings) -> Iterator[None]:
    """Raise overdue incidents a level every interval while the app serves (0: never)."""
    if incident_settings.escalation_interval_s <= 0:
        yield
        return
    interval = incident_settings.escalation_interval_s
    sweeper = EscalationSweeper(engine, interval, audit=audit.record)
    sweeper.start()
    try:
        yield
    finally:
        sweeper.stop()


@contextlib.contextmanager
def _old_positions_deleted(engine: Engine, incident_settings: IncidentSettings) -> Iterator[None]:
    """Delete position history past ``GRIDMAP_POSITION_RETENTION_DAYS`` every hour, in an
    app that writes on its own (the escalation sweep's switch: 0 turns both off)."""
    if incident_settings.escalation_interval_s <= 0:
        yield
        return
    sweeper = RetentionSweeper(engine, dt.timedelta(days=CareSettings().retention_days))
    sweeper.start()
    try:
        yield
    finally:
        sweeper.stop()


@contextlib.contextmanager
def _coverage_kept_current(app: FastAPI) -> Iterator[None]:
    """Listen for data changes while the app serves, so coverage and tile caches stay current."""
    service: CoverageService = app.state.coverage
    tile_service: TileService = app.state.tiles
    service.start()
    tile_service.start()
    try:
        yield
    finally:
        tile_service.stop()
        service.stop()


WARM_UP_PATH = "/__gridmap_warm_up__"
"""A path no route has: the warm-up request walks the whole route table to its 404."""


async def _routes_ready(app: FastAPI) -> None:
    """Have FastAPI build its routes' matching state now, before the first client waits.

    FastAPI builds it lazily, on the first request a process serves (~0.3-0.5 s of CPU
    for this app's ~100 routes); a map asking for 32 tiles at once would wait behind it.
    One in-process request that matches nothing walks every route; nothing else runs.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": WARM_UP_PATH,
        "raw_path": WARM_UP_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 0),
        "server": ("localhost", 80),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        return None

    try:
        await app(scope, receive, send)
    except Exception:  # a warm-up must never stop the server from starting
        logging.getLogger(__name__).warning("route warm-up failed", exc_info=True)
    _startup_objects_frozen()


def _startup_objects_frozen() -> None:
    """Move everything alive once the app has started out of the garbage collector's
    reach (``gc.freeze``). Modules, routes, pydantic models and the libraries behind
    them are a few million objects that live as long as the process; every full
    collection walked them all, 120-170 ms holding the GIL, and analyses allocate
    enough to trigger one every second or two: /healthz stalled behind each
    (tests/api/test_burst.py). Requests' own garbage is collected as before."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: ServerSettings | None = None,
    engine: Engine | None = None,
    database: DatabaseSettings | None = None,
    escalate: bool | None = None,
    basemap_settings: BasemapSettings | None = None,
) -> FastAPI:
    """The app; tests pass ``engine`` (it is used as is and not disposed of).

    ``escalate``: raise overdue cases in the background every
    ``GRIDMAP_ESCALATION_INTERVAL_S``. By default only an app that owns its
    engine does; one handed an engine (tests, a read-only demo database) writes
    nothing on its own unless asked (``gridmap serve`` and ``gridmap demo`` ask).
    ``basemap_settings``: the base map's source (``GRIDMAP_BASEMAP`` and friends by
    default); one that cannot work raises ``ConfigurationError`` here, before serving.
    """
    settings = settings or ServerSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        if engine is not None:
            sweep = IncidentSettings() if escalate else IncidentSettings(escalation_interval_s=0)
            with (
                _coverage_kept_current(app),
                _overdue_cases_escalated(engine, sweep),
                _old_positions_deleted(engine, sweep),
            ):
                await _routes_ready(app)
                yield
            await _close_probe(app)
            return
        db = database or DatabaseSettings()
        with database_url(db.database_url, db.data_dir, db.db_name, db.pg_bindir) as url:
            # Our own cluster may come back on another port (`gridmap db start` after a
            # crash, its port taken meanwhile): new connections follow its port file.
            follow = None if db.database_url else EmbeddedPostgres(db.data_dir).current_port
            owner = make_engine(url, port=follow, poolclass=NullPool)
            try:
                if not db.database_url:
                    schema.upgrade(owner)  # our own cluster: keep it current
                # Serve as the application's role (no DDL, audit append-only), gis.db.roles.
                app_url = app_database_url(db, owner)
            finally:
                owner.dispose()
            own_engine = make_engine(app_url, port=follow)
            try:
                _attach_engine(app, own_engine)
                sweep = (
                    IncidentSettings(escalation_interval_s=0)
                    if escalate is False
                    else IncidentSettings()
                )
                with (
                    _coverage_kept_current(app),
                    _overdue_cases_escalated(own_engine, sweep),
                    _old_positions_deleted(own_engine, sweep),
                ):
                    await _routes_ready(app)
                    yield
            finally:
                await _close_probe(app)
                own_engine.dispose()

    app = FastAPI(
        title="gridmap",
        summary="Community grid management and service coverage",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served from vendored assets by api.routes.web
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.heavy_cap = heavy_work_cap(settings)
    if engine is not None:
        _attach_engine(app, engine)
    register_error_handlers(app)
    # The base map's source is checked here: a bad GRIDMAP_BASEMAP* refuses to start.
    app.state.basemap = sources.configured(basemap_settings or BasemapSettings())
    # A cached vector tile for a remembered caller is answered before routing (innermost).
    app.add_middleware(WarmTiles)
    # gzip, CORS, security headers (tile servers allowed as image sources): api.security
    register_middleware(app, settings, image_origins=app.state.basemap.image_origins)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(features.router)
    app.include_router(ogc.router)
    app.include_router(basemap.router)
    app.include_router(basemap.pages)
    app.include_router(facilities.router)
    app.include_router(incident_statistics.router)  # before /incidents/{incident_id}
    app.include_router(incidents.router)
    app.include_router(photos.router)
    app.include_router(people.router)
    app.include_router(care.router)
    app.include_router(whereabouts.router)
    app.include_router(mediation_units.router)
    app.include_router(participation.router)
    app.include_router(participation_import.router)
    app.include_router(coverage.router)
    app.include_router(coverage_takeaway.router)
    app.include_router(coverage_walk.router)
    app.include_router(norms.router)
    app.include_router(exports.router)
    app.include_router(tiles.router)
    app.include_router(incident_pages.router)
    app.include_router(field.router)
    app.include_router(open311.router)
    register_error_shape(app, open311.PREFIX + "/", open311_render.error_response)
    register_error_shape(app, "/norms", norms.refusal_page)  # the page, not /api/v1/norms
    document_errors(app, foreign_shape_prefixes=(open311.PREFIX + "/",))
    app.include_router(login_pages.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
