"""Settings from environment variables, one class per concern.

Tests build these explicitly instead of relying on the process environment.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gis.lang import DEFAULT, Lang, parse_lang


def _default_data_dir() -> Path:
    """Where the embedded PostGIS cluster lives when DATABASE_URL is unset.

    PostgreSQL will not run as root, so as root the cluster is owned by the
    ``postgres`` system user and must sit where that user can reach it:
    ``/var/lib/gridmap``. Other users get an XDG data directory of their own.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/gridmap")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gridmap"


DEFAULT_POOL_SIZE = 40
"""Connections an engine keeps open: one per request the API serves at once (the
threadpool that runs its handlers has 40 threads). Fewer, and requests beyond them
each open and close a connection of their own (a fork and a SCRAM handshake on the
server, and cold caches: tens of milliseconds under load)."""
DEFAULT_MAX_OVERFLOW = 10
"""Connections opened beyond the pool in a burst, and closed when returned."""


class DatabaseSettings(BaseSettings):
    """Which PostGIS to use, and how many connections to keep to it.

    With ``DATABASE_URL`` unset the program runs its own cluster under
    ``GRIDMAP_DATA_DIR``; with it set, that server is used and nothing is started.
    Migrations, imports and the CLI connect as the owner (``DATABASE_URL``); the
    API server connects as the application's own role ``gridmap_app`` (no DDL, the
    audit trail append-only, ``gis.db.roles``): on the embedded cluster with a
    password kept in the data directory, on another server by
    ``GRIDMAP_APP_DATABASE_URL`` (``DATABASE_URL`` as is when unset).
    ``GRIDMAP_DB_POOL_SIZE`` and ``GRIDMAP_DB_MAX_OVERFLOW`` size each engine's
    connection pool (connections are opened as needed, up to the pool size kept);
    uvicorn workers x (pool size + overflow) must stay below the server's
    ``max_connections`` (100 unless configured).
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    app_database_url: str | None = Field(default=None, validation_alias="GRIDMAP_APP_DATABASE_URL")
    data_dir: Path = Field(default_factory=_default_data_dir, validation_alias="GRIDMAP_DATA_DIR")
    pg_bindir: Path | None = Field(default=None, validation_alias="GRIDMAP_PG_BINDIR")
    db_name: str = Field(default="gridmap", validation_alias="GRIDMAP_DB_NAME")
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, validation_alias="GRIDMAP_DB_POOL_SIZE")
    max_overflow: int = Field(
        default=DEFAULT_MAX_OVERFLOW, ge=0, validation_alias="GRIDMAP_DB_MAX_OVERFLOW"
    )


def _cpus() -> int:
    """CPUs this process may run on (its affinity, which containers narrow), at least 1."""
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity else (os.cpu_count() or 1))


class ServerSettings(BaseSettings):
    """Where the web map and API listen, and how much work one request may make.

    The limits on work (``api.limits``): every SQL statement of a request is
    cancelled after the timeout of its kind, ``GRIDMAP_LIGHT_TIMEOUT_S`` (reads
    of a page or a record), ``GRIDMAP_HEAVY_TIMEOUT_S`` (statistics, hot spots,
    coverage, exports) or ``GRIDMAP_WRITE_TIMEOUT_S``, in seconds (0: the
    server's own limit). At most ``GRIDMAP_HEAVY_CONCURRENCY`` heavy requests
    run at once (default one per CPU); one more waits up to
    ``GRIDMAP_HEAVY_WAIT_S`` seconds for a turn and is then refused with a 503.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field(default="127.0.0.1", validation_alias="GRIDMAP_HOST")
    port: int = Field(default=8000, validation_alias="GRIDMAP_PORT")
    max_page_size: int = Field(default=5000, validation_alias="GRIDMAP_MAX_PAGE_SIZE")
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024, validation_alias="GRIDMAP_MAX_UPLOAD_BYTES"
    )
    light_timeout_s: float = Field(default=5.0, ge=0, validation_alias="GRIDMAP_LIGHT_TIMEOUT_S")
    heavy_timeout_s: float = Field(default=30.0, ge=0, validation_alias="GRIDMAP_HEAVY_TIMEOUT_S")
    write_timeout_s: float = Field(default=10.0, ge=0, validation_alias="GRIDMAP_WRITE_TIMEOUT_S")
    heavy_concurrency: int = Field(
        default_factory=_cpus, ge=1, validation_alias="GRIDMAP_HEAVY_CONCURRENCY"
    )
    heavy_wait_s: float = Field(default=2.0, ge=0, validation_alias="GRIDMAP_HEAVY_WAIT_S")
    public_layers: str = Field(default="", validation_alias="GRIDMAP_PUBLIC_LAYERS")
    """Read-only layers anyone may read without logging in, comma-separated (``facilities``
    for a public facility map); none by default."""
    token_lifetime_s: int = Field(
        default=8 * 3600, ge=60, validation_alias="GRIDMAP_TOKEN_LIFETIME_S"
    )
    """How long a bearer token from POST /api/v1/auth/token lasts (seconds)."""
    session_lifetime_s: int = Field(
        default=12 * 3600, ge=60, validation_alias="GRIDMAP_SESSION_LIFETIME_S"
    )
    """How long a browser login lasts (seconds): a working day and then some."""
    cookie_secure: bool = Field(default=False, validation_alias="GRIDMAP_COOKIE_SECURE")
    """Send the login cookie over HTTPS only: set it when a TLS proxy is in front."""

    cors_origins: str = Field(default="", validation_alias="GRIDMAP_CORS_ORIGINS")
    """Other sites whose pages may call the API from the browser, comma-separated origins
    (``https://hotline.example.gov.cn``); none by default (no CORS headers at all)."""

    @property
    def public_layer_names(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.public_layers.split(",") if p.strip())

    @field_validator("cors_origins")
    @classmethod
    def _origins_only(cls, value: str) -> str:
        """Each entry an exact origin: a browser's ``Origin`` header never matches a path,
        a trailing slash or a wildcard, and ``*`` with credentials would let any site in."""
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            parts = urllib.parse.urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or "*" in origin
                or origin != f"{parts.scheme}://{parts.netloc}"
            ):
                raise ValueError(
                    f"GRIDMAP_CORS_ORIGINS: {origin!r} is not an origin; list each site as "
                    "scheme://host[:port] (e.g. https://hotline.example.gov.cn), no path, "
                    "no trailing slash, no wildcard"
                )
        return value

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """The origins of ``GRIDMAP_CORS_ORIGINS``, in order, without repeats."""
        return tuple(dict.fromkeys(o.strip() for o in self.cors_origins.split(",") if o.strip()))


class DemoSettings(BaseSettings):
    """The demo's accounts.

    ``GRIDMAP_DEMO_PASSWORD``: the password every demo account gets when
    `gridmap demo` first loads the district (at least 8 characters); unset, a
    random one is made and printed once.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    demo_password: str | None = Field(default=None, validation_alias="GRIDMAP_DEMO_PASSWORD")


class ImportSettings(BaseSettings):
    """Limits of `gridmap import`.

    ``GRIDMAP_MAX_IMPORT_BYTES`` (bytes, default 200 MB; a Shapefile counts
    with its sidecar files) bounds what is read into memory: the whole file is
    validated before anything is written.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    max_import_bytes: int = Field(
        default=200 * 1024 * 1024, validation_alias="GRIDMAP_MAX_IMPORT_BYTES"
    )


class CliSettings(BaseSettings):
    """How `gridmap` reports a failure.

    Every failure is one line on stderr; ``GRIDMAP_DEBUG=1`` lets an
    unexpected one (a bug) show its traceback too, for the bug report.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    debug: bool = Field(default=False, validation_alias="GRIDMAP_DEBUG")


class LangSettings(BaseSettings):
    """The language people read gridmap in (``gis.lang``).

    ``GRIDMAP_LANG``: ``zh`` (default, 简体中文) or ``en``; a region or encoding
    (``zh_CN.UTF-8``, ``en-GB``) is accepted. It is the command line's language
    unless ``--lang`` is given, and the API's and Open311's when a request's
    ``Accept-Language`` names neither Chinese nor English.
    """

    # Not populated by name: the field's own name would read the locale's LANG (C.UTF-8).
    model_config = SettingsConfigDict(extra="ignore")

    lang: Lang = Field(default=DEFAULT, validation_alias="GRIDMAP_LANG")

    @field_validator("lang", mode="before")
    @classmethod
    def _named(cls, value: object) -> Lang:
        if isinstance(value, Lang):
            return value
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT
        lang = parse_lang(str(value))
        if lang is None:
            raise ValueError(f"GRIDMAP_LANG={value!r}: set zh (中文) or en (English)")
        return lang


DEFAULT_WALK_SPEED_M_PER_MIN = 60.0
"""1 m/s: the 5/10/15-minute life circles of GB 50180-2018 (300 m, 500 m, 800-1000 m)
are walked at about this pace, and an older resident or a child with a parent walks no faster."""


class WalkSettings(BaseSettings):
    """Walking-distance coverage (``gis.coverage.network``).

    ``GRIDMAP_WALK_SPEED_M_PER_MIN`` (metres a minute, default 60): turns the
    ``minutes=`` of a coverage question into metres. ``GRIDMAP_WALK_MAX_LEG_M``
    (metres, default 500): how far a building or facility may stand from the
    walking network and still join it; beyond, it is unreachable on foot.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    speed_m_per_min: float = Field(
        default=DEFAULT_WALK_SPEED_M_PER_MIN,
        gt=0,
        le=1000,
        validation_alias="GRIDMAP_WALK_SPEED_M_PER_MIN",
    )
    max_leg_m: float = Field(
        default=500.0, ge=0, le=5000, validation_alias="GRIDMAP_WALK_MAX_LEG_M"
    )


class FundingSettings(BaseSettings):
    """Funding norms by households (seed 004, Kuiwen: "分别按每千户每年2.6万元和1.2万元的
    标准核拨社区工作经费和网格服务工作经费，落实每社区每年不低于20万元的党组织为民服务专项经费").

    ``GRIDMAP_FUNDING_COMMUNITY_WORK_PER_1000`` (CNY per 1,000 households a year,
    default 26,000), ``GRIDMAP_FUNDING_GRID_SERVICE_PER_1000`` (default 12,000) and
    ``GRIDMAP_FUNDING_PARTY_SERVICE_MIN`` (CNY per community a year, at least; default
    200,000): another district's figures replace them without a code change.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    community_work_per_1000: float = Field(
        default=26_000.0, ge=0, le=1e9, validation_alias="GRIDMAP_FUNDING_COMMUNITY_WORK_PER_1000"
    )
    grid_service_per_1000: float = Field(
        default=12_000.0, ge=0, le=1e9, validation_alias="GRIDMAP_FUNDING_GRID_SERVICE_PER_1000"
    )
    party_service_min: float = Field(
        default=200_000.0, ge=0, le=1e10, validation_alias="GRIDMAP_FUNDING_PARTY_SERVICE_MIN"
    )


class HouseholdNormSettings(BaseSettings):
    """Floor area and staff norms by households (seed 002, Tongguanshan: 社区活动服务用房
    "每百户达60平方米"; seed 004, Kuiwen: one grid manager per 200 households, one full-time
    community worker per 300).

    ``GRIDMAP_NORM_FLOOR_M2_PER_100_HOUSEHOLDS`` (m², default 60),
    ``GRIDMAP_NORM_HOUSEHOLDS_PER_GRID_MANAGER`` (default 200) and
    ``GRIDMAP_NORM_HOUSEHOLDS_PER_COMMUNITY_WORKER`` (default 300): like the funding
    norms, another district's figures replace them without a code change.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    floor_m2_per_100_households: float = Field(
        default=60.0, ge=0, le=10_000, validation_alias="GRIDMAP_NORM_FLOOR_M2_PER_100_HOUSEHOLDS"
    )
    households_per_grid_manager: int = Field(
        default=200, ge=1, le=100_000, validation_alias="GRIDMAP_NORM_HOUSEHOLDS_PER_GRID_MANAGER"
    )
    households_per_community_worker: int = Field(
        default=300,
        ge=1,
        le=100_000,
        validation_alias="GRIDMAP_NORM_HOUSEHOLDS_PER_COMMUNITY_WORKER",
    )


class CareSettings(BaseSettings):
    """Device positions, geofences and emergency calls (issue 14, seed 003's "一点通").

    ``GRIDMAP_POSITION_RETENTION_DAYS`` (30): days of position history kept, then deleted.
    ``GRIDMAP_POSITION_BATCH_MAX`` (5,000): reports one ingest request may carry.
    ``GRIDMAP_GEOFENCE_MARGIN_M`` (25 m): how far beyond the fence a report must lie to
    count as outside (GPS noise at the edge). ``GRIDMAP_GEOFENCE_CONFIRM`` (2): reports
    in a row that change a geofence state. ``GRIDMAP_GEOFENCE_MAX_ACCURACY_M`` (100 m):
    reports vaguer than this do not count. ``GRIDMAP_ARRIVAL_RADIUS_M`` (50 m): a worker's
    device this close to the caller records their arrival.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    retention_days: int = Field(
        default=30, ge=1, le=3650, validation_alias="GRIDMAP_POSITION_RETENTION_DAYS"
    )
    batch_max: int = Field(
        default=5_000, ge=1, le=100_000, validation_alias="GRIDMAP_POSITION_BATCH_MAX"
    )
    margin_m: float = Field(
        default=25.0, ge=0, le=1_000, validation_alias="GRIDMAP_GEOFENCE_MARGIN_M"
    )
    confirm: int = Field(default=2, ge=1, le=100, validation_alias="GRIDMAP_GEOFENCE_CONFIRM")
    max_accuracy_m: float = Field(
        default=100.0, gt=0, le=100_000, validation_alias="GRIDMAP_GEOFENCE_MAX_ACCURACY_M"
    )
    arrival_radius_m: float = Field(
        default=50.0, gt=0, le=5_000, validation_alias="GRIDMAP_ARRIVAL_RADIUS_M"
    )


DEFAULT_SNAP_TOLERANCE_M = 30.0


class IncidentSettings(BaseSettings):
    """Intake tolerances and automatic escalation.

    ``GRIDMAP_SNAP_TOLERANCE_M`` (metres, default 30): how far outside every
    grid a reported point may lie (a boundary road between grids, the kerb of
    the district edge) and still be routed to the nearest grid.
    ``GRIDMAP_ESCALATION_INTERVAL_S`` (seconds, default 300; 0 turns it off):
    how often the server raises overdue cases a level (gis.incidents.escalation).
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    snap_tolerance_m: float = Field(
        default=DEFAULT_SNAP_TOLERANCE_M, ge=0, validation_alias="GRIDMAP_SNAP_TOLERANCE_M"
    )
    escalation_interval_s: float = Field(
        default=300.0, ge=0, validation_alias="GRIDMAP_ESCALATION_INTERVAL_S"
    )


class BasemapSettings(BaseSettings):
    """The base map every map page draws under its data (``gis.basemap.sources``).

    ``GRIDMAP_BASEMAP``: ``offline`` (default: the app's own streets and place
    names, no internet needed), ``tianditu`` (天地图, needs
    ``GRIDMAP_TIANDITU_KEY``), ``amap`` (高德), ``tencent`` (腾讯), ``xyz`` or
    ``wmts`` (``GRIDMAP_BASEMAP_URL`` a tile URL template and
    ``GRIDMAP_BASEMAP_DATUM`` the datum its tiles are drawn in: ``wgs84``,
    ``cgcs2000`` or ``gcj02``; never guessed). ``GRIDMAP_BASEMAP_ATTRIBUTION``
    credits the tiles of an ``xyz``/``wmts`` source; ``GRIDMAP_BASEMAP_SUBDOMAINS``
    fills its ``{s}`` (e.g. ``abc``); ``GRIDMAP_BASEMAP_MAX_ZOOM`` its deepest level.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    source: str = Field(default="offline", validation_alias="GRIDMAP_BASEMAP")
    tianditu_key: str | None = Field(default=None, validation_alias="GRIDMAP_TIANDITU_KEY")
    url: str | None = Field(default=None, validation_alias="GRIDMAP_BASEMAP_URL")
    datum: str | None = Field(default=None, validation_alias="GRIDMAP_BASEMAP_DATUM")
    attribution: str | None = Field(default=None, validation_alias="GRIDMAP_BASEMAP_ATTRIBUTION")
    subdomains: str | None = Field(default=None, validation_alias="GRIDMAP_BASEMAP_SUBDOMAINS")
    max_zoom: int = Field(default=18, ge=1, le=22, validation_alias="GRIDMAP_BASEMAP_MAX_ZOOM")


class PhotoSettings(BaseSettings):
    """Limits on a case's evidence photos (``gis.incidents.photos``).

    ``GRIDMAP_PHOTO_MAX_BYTES`` (bytes, default 10 MB): the largest file one
    photo may be as sent (a phone's 12-megapixel JPEG is 2-5 MB).
    ``GRIDMAP_PHOTO_MAX_PER_CASE`` (default 20): photos one case may hold, all
    stages together. ``GRIDMAP_PHOTO_MAX_PIXELS`` (default 64 million, a
    64-megapixel camera's full-size photo): an image declaring more is refused
    before it is decoded, so a small file that would unpack into gigabytes (a
    decompression bomb) costs nothing.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, validation_alias="GRIDMAP_PHOTO_MAX_BYTES"
    )
    max_per_case: int = Field(default=20, ge=1, validation_alias="GRIDMAP_PHOTO_MAX_PER_CASE")
    max_pixels: int = Field(default=64_000_000, ge=1, validation_alias="GRIDMAP_PHOTO_MAX_PIXELS")


DEFAULT_TILE_DRAWS = 4
"""Tiles a server process draws at once. A map opening asks for 20-30 tiles together;
drawing all of them at once gains nothing once the database's cores are busy, but
makes the pool open a connection per tile, and a new PostgreSQL backend costs ~23 ms
of CPU before its first tile (fork and login, loading PostGIS, initialising PROJ for
``ST_Transform``) against ~3-4 ms for the tile itself (measured on the
1,000,000-building city, ``benchmarks/tiles_bench.py``)."""


class TileSettings(BaseSettings):
    """The in-process cache of vector tiles (``gis.tiles.cache``).

    ``GRIDMAP_TILE_CACHE_MB`` (megabytes, default 256; 0: no cache): the most
    memory each server process keeps tiles in (the encoded tile and its gzip
    counted), least recently used dropped first. Entries are dropped when the
    database notifies a change of what they show, never by a timer.

    ``GRIDMAP_TILE_DRAWS`` (default 4): tiles each server process draws at once;
    the others of a burst wait their turn (see ``DEFAULT_TILE_DRAWS``).
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    cache_mb: float = Field(default=256.0, ge=0, validation_alias="GRIDMAP_TILE_CACHE_MB")
    draws: int = Field(default=DEFAULT_TILE_DRAWS, ge=1, validation_alias="GRIDMAP_TILE_DRAWS")
