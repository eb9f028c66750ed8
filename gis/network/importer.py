"""`gridmap network import`: a walking network from an OSM PBF file or any line layer, all or
nothing.

Two sources:

- an OpenStreetMap PBF file (``*.pbf``, read by ``gis.network.osm``): ways and
  barriers by their tags; always WGS84. With a district loaded, only what lies
  within ``OSM_MARGIN_M`` of it is kept (an extract covers a whole city or
  region);
- a line layer (GeoPackage, Shapefile, zipped Shapefile, GeoJSON) in the
  ``--datum`` the caller names, with optional columns (``docs/network.md``):
  ``oneway`` (yes/no/-1), ``access`` (no/private leave the row out),
  ``barrier`` (a barrier kind or yes: the row is a barrier, not a way),
  ``bridge``, ``tunnel``, ``layer`` (a way off the ground level is not joined
  to the ways it passes over or under, only at its ends), ``kind``, ``name``.
  Lines are split where they cross (noded), so a file of whole streets works.
  Every row is checked first: missing, empty or invalid geometries, unknown
  attribute values and rows beyond the district (more than
  ``DISTRICT_MARGIN_M``, with a datum hint where another reading of the
  coordinates fits) are reported together with their row numbers
  (``ImportRejectedError``), and nothing is written.

The district check applies only when a district is loaded; an import into an
empty database (a city's network before its districts, a foreign test
extract) or with ``anywhere=True`` stores the file as it is. The stored
network is replaced only with ``replace=True``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
import shapely.ops
from numpy.typing import NDArray
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text

from gis.db.models import WALK_BARRIER_KINDS, WALK_EDGE_KINDS
from gis.errors import (
    ConflictError,
    DatumMismatchError,
    ImportFileError,
    ImportRejectedError,
    InvalidParameterError,
    PayloadTooLargeError,
    RejectedRow,
)
from gis.geo.datum import BD09, GCJ02, WGS84, Datum, DatumKind, to_wgs84
from gis.geo.metric import MetricPlane
from gis.lang import Texts
from gis.network.osm import read_osm
from gis.network.store import Conn, NetworkSummary, has_network, network_summary, replace_network
from gis.progress import Progress, silent
from gis.settings import ImportSettings

LINE_FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".zip": "zipped Shapefile",
}
OSM_SUFFIX = ".pbf"
DISTRICT_MARGIN_M = 200.0
"""How far (metres) a line of a file may run beyond the district: a network cut at the
boundary keeps the roads along it. GCJ-02 and BD-09 shift Weifang by 500-1300 m, so a
file in the wrong datum still lands beyond this."""
OSM_MARGIN_M = 1000.0
"""Ways and barriers of an OSM extract within this of the district are kept: walks to a
facility may leave the district for a while."""
_METRES_PER_DEGREE = 111_320.0
_NO = {"", "no", "false", "0", "none", "nan"}
_YES = {"yes", "true", "1"}
_WALKABLE_ACCESS = {"yes", "permissive", "designated", "destination", "customers", "public"}
_CLOSED_ACCESS = {"no", "private"}


@dataclass
class NetworkImportReport:
    """What an import stored; ``replaced`` the network there was before (None if none)."""

    path: Path
    source: str
    datum: str
    rows_read: int
    summary: NetworkSummary
    seconds: float
    replaced: NetworkSummary | None = None
    notes: list[str] = field(default_factory=list)


def import_network(
    conn: Conn,
    path: Path | str,
    datum: Datum = WGS84,
    *,
    replace: bool = False,
    anywhere: bool = False,
    layer: str | None = None,
    progress: Progress = silent,
    max_bytes: int | None = None,
) -> NetworkImportReport:
    """Check every row of ``path`` and store it as the walking network, or store nothing.

    Writes in the caller's transaction (the caller commits and audits).
    ``anywhere`` skips the district check. Raises `ImportRejectedError` with every
    bad row, `ImportFileError`, `DatumMismatchError`, `PayloadTooLargeError`,
    `InvalidParameterError`, or `ConflictError` when a network is stored and
    ``replace`` is not given.
    """
    started = time.perf_counter()
    path = Path(path)
    _check_size(path, ImportSettings().max_import_bytes if max_bytes is None else max_bytes)
    previous = network_summary(conn) if has_network(conn) else None
    if previous is not None and not replace:
        raise ConflictError(
            f"a walking network is stored ({previous.edges:,} edges from "
            f"{', '.join(previous.origins)}); add --replace to replace it",
            zh=f"已有步行路网（{previous.edges:,} 条路段，来自 {'、'.join(previous.origins)}）；"
            "如要替换，请加 --replace",
        )
    district, codes = (None, []) if anywhere else _district(conn)
    step = progress(Texts(f"读取 {path.name}", f"reading {path.name}"), 3)
    if path.name.lower().endswith(OSM_SUFFIX):
        if datum.kind not in (DatumKind.WGS84, DatumKind.CGCS2000):
            raise InvalidParameterError(
                f"OpenStreetMap data is WGS84 by definition; drop --datum {datum.label}",
                zh=f"OpenStreetMap 数据一律为 WGS84；请去掉 --datum {datum.label}",
            )
        edges, barriers, notes = read_osm(path)
        rows_read = len(edges)
        step(1, description=Texts("检查路网", "checking the network"))
        if district is not None:
            edges, barriers = _near_district(path, edges, barriers, district, codes, notes)
        edges = edges.drop(columns=["row"])
        origin = f"osm:{path.name}"
        source = "OpenStreetMap PBF"
    else:
        fmt = LINE_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ImportFileError(
                f"{path.name}: unsupported file type {path.suffix or '(none)'}; use an "
                f"OpenStreetMap .osm.pbf or one of {', '.join(sorted(LINE_FORMATS))}",
                zh=f"{path.name}：不支持的文件类型 {path.suffix or '(无)'}；请使用 OpenStreetMap "
                f".osm.pbf 或 {'、'.join(sorted(LINE_FORMATS))}",
            )
        frame, declared = _read_lines(path, fmt, layer)
        _check_declared_crs(declared, datum, path)
        rows_read = len(frame)
        step(1, description=Texts("检查路网", "checking the network"))
        edges, barriers, notes = _checked_lines(frame, datum, district, codes)
        origin = f"file:{path.name}"
        source = fmt
    step(1, description=Texts("写入路网", "writing the network"))
    summary = replace_network(conn, edges, barriers, origin)
    step(1, description=Texts("路网导入完成", "network imported"))
    return NetworkImportReport(
        path=path,
        source=source,
        datum=datum.label,
        rows_read=rows_read,
        summary=summary,
        seconds=time.perf_counter() - started,
        replaced=previous,
        notes=notes,
    )


def _check_size(path: Path, max_bytes: int) -> None:
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file", zh=f"{path}：文件不存在")
    parts = (
        [path.with_suffix(s) for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
        if path.suffix.lower() == ".shp"
        else [path]
    )
    size = sum(p.stat().st_size for p in parts if p.is_file())
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"{path.name} is {size / 1e6:.1f} MB, over the import limit of "
            f"{max_bytes / 1e6:.1f} MB; cut the extract to the city, or raise "
            "GRIDMAP_MAX_IMPORT_BYTES",
            zh=f"{path.name} 大小 {size / 1e6:.1f} MB，超过导入上限 {max_bytes / 1e6:.1f} MB；"
            "请裁剪到本市范围，或调高 GRIDMAP_MAX_IMPORT_BYTES",
        )


def _district(conn: Conn) -> tuple[BaseGeometry | None, list[str]]:
    """The current districts' union (WGS84) and codes; (None, []) when none is loaded."""
    rows = conn.execute(
        text(
            "SELECT code, ST_AsBinary(geom) FROM admin_area"
            " WHERE level = 'district' AND valid_to IS NULL ORDER BY code"
        )
    ).all()
    if not rows:
        return None, []
    return shapely.union_all(shapely.from_wkb([bytes(r[1]) for r in rows])), [
        str(r[0]) for r in rows
    ]


def _buffer_deg(area: BaseGeometry, metres: float) -> float:
    """``metres`` as degrees, generous in longitude (a degree shrinks with cos(lat))."""
    lat = max(abs(area.bounds[1]), abs(area.bounds[3]))
    return metres / (_METRES_PER_DEGREE * max(np.cos(np.radians(lat)), 0.01))


def _near_district(
    path: Path,
    edges: gpd.GeoDataFrame,
    barriers: gpd.GeoDataFrame,
    district: BaseGeometry,
    codes: list[str],
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """An extract's ways and barriers within ``OSM_MARGIN_M`` of the district."""
    near = district.buffer(_buffer_deg(district, OSM_MARGIN_M))
    shapely.prepare(near)
    keep = shapely.intersects(near, np.asarray(edges.geometry.array, dtype=object))
    if not keep.any():
        where = "/".join(codes)
        raise ImportFileError(
            f"{path.name}: none of its {len(edges):,} walkable ways lies within "
            f"{OSM_MARGIN_M:,.0f} m of the district {where}; is it the extract of this city? "
            "(To store it anyway, import into a database without districts or add --anywhere.)",
            zh=f"{path.name}：{len(edges):,} 条可步行道路均不在辖区 {where} 周边 "
            f"{OSM_MARGIN_M:,.0f} 米内；请确认是本市的数据（如确要导入，请用没有辖区的数据库或加 "
            "--anywhere）",
        )
    if (~keep).any():
        notes.append(
            f"kept the {int(keep.sum()):,} ways within {OSM_MARGIN_M:,.0f} m of the district; "
            f"left out {int((~keep).sum()):,} beyond"
        )
    near_barriers = shapely.intersects(near, np.asarray(barriers.geometry.array, dtype=object))
    return edges[keep].reset_index(drop=True), barriers[near_barriers].reset_index(drop=True)


def _read_lines(path: Path, fmt: str, layer: str | None) -> tuple[gpd.GeoDataFrame, CRS | None]:
    failures = (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        OSError,
        ValueError,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = [str(name) for name, _ in pyogrio.list_layers(path)]
            if layer is not None and layer not in layers:
                raise ImportFileError(
                    f"{path.name} has no layer {layer!r}; its layers: {', '.join(layers)}",
                    zh=f"{path.name} 中没有图层 {layer!r}；其图层：{'、'.join(layers)}",
                )
            if layer is None and len(layers) > 1:
                raise ImportFileError(
                    f"{path.name} has {len(layers)} layers ({', '.join(layers)}); "
                    "choose one with --layer",
                    zh=f"{path.name} 有 {len(layers)} 个图层（{'、'.join(layers)}）；"
                    "请用 --layer 指定",
                )
            frame = pyogrio.read_dataframe(path, layer=layer or layers[0], on_invalid="ignore")
    except failures as exc:
        message = str(exc).replace(str(path), path.name)
        raise ImportFileError(
            f"{path.name}: cannot be read as {fmt} ({message}); export it again from your GIS",
            zh=f"{path.name}：无法作为 {fmt} 读取（{message}）；请从 GIS 软件重新导出",
        ) from exc
    if len(frame) == 0:
        raise ImportFileError(
            f"{path.name}: contains no rows to import", zh=f"{path.name}：没有可导入的行"
        )
    names = [str(c).strip().lower() for c in frame.columns]
    frame.columns = names
    return frame, frame.crs


def _check_declared_crs(declared: CRS | None, datum: Datum, path: Path) -> None:
    """Refuse a file whose declared CRS contradicts ``datum`` (as ``gridmap import`` does:
    GCJ-02 and BD-09 files are labelled EPSG:4326 by the tools that write them)."""
    if declared is None:
        return
    epsg = declared.to_epsg(min_confidence=70)
    if datum.kind is DatumKind.EPSG:
        if epsg == datum.epsg:
            return
    elif epsg in (4326, 4490):
        return
    said = f"EPSG:{epsg}" if epsg else repr(declared.name)
    suggest = f"EPSG:{epsg}" if epsg else "<its EPSG code>"
    raise DatumMismatchError(
        f"{path.name} declares its coordinates as {said}, which contradicts --datum "
        f"{datum.label}. If the declared CRS is right, re-run with --datum {suggest}; if the "
        "file's CRS label is wrong, fix the label first.",
        zh=f"{path.name} 声明其坐标为 {said}，与 --datum {datum.label} 矛盾。若声明正确，"
        f"请用 --datum {suggest} 重新导入；若声明有误，请先改正。",
    )


def _values(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame.columns:
        return [""] * len(frame)
    out = []
    for v in frame[column].tolist():
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("")
        elif isinstance(v, bool | np.bool_):
            out.append("yes" if v else "no")
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v).strip().lower())
    return out


def _convert(geoms: NDArray[np.object_], datum: Datum) -> NDArray[np.object_]:
    def convert(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], datum)
        return np.column_stack([lon, lat])

    with np.errstate(all="ignore"):
        return np.asarray(shapely.transform(geoms, convert), dtype=object)


def _checked_lines(
    frame: gpd.GeoDataFrame,
    datum: Datum,
    district: BaseGeometry | None,
    codes: list[str],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """Edges and barriers (WGS84, noded) of a line layer, or every bad row refused."""
    n = len(frame)
    problems: list[list[str]] = [[] for _ in range(n)]
    geoms = np.asarray(shapely.force_2d(np.asarray(frame.geometry.array, dtype=object)))
    barrier = _values(frame, "barrier")
    oneway = _values(frame, "oneway")
    access = _values(frame, "access")
    bridge = _values(frame, "bridge")
    tunnel = _values(frame, "tunnel")
    layer = _values(frame, "layer")
    kinds = _values(frame, "kind")
    names_raw = frame["name"].tolist() if "name" in frame.columns else [None] * n
    is_barrier = np.zeros(n, dtype=bool)
    barrier_kind: list[str] = ["other"] * n
    forward = np.ones(n, dtype=bool)
    backward = np.ones(n, dtype=bool)
    closed = np.zeros(n, dtype=bool)
    elevated = np.zeros(n, dtype=bool)
    edge_kind = ["street"] * n
    for i in range(n):
        b = barrier[i]
        if b in WALK_BARRIER_KINDS:
            is_barrier[i], barrier_kind[i] = True, b
        elif b in _YES:
            is_barrier[i] = True
        elif b not in _NO:
            problems[i].append(
                f"barrier {b!r} is not one of yes, no, {', '.join(WALK_BARRIER_KINDS)}"
            )
        if oneway[i] in _YES:
            backward[i] = False
        elif oneway[i] in ("-1", "reverse"):
            forward[i] = False
        elif oneway[i] not in _NO:
            problems[i].append(f"oneway {oneway[i]!r} is not one of yes, no, -1")
        if access[i] in _CLOSED_ACCESS:
            closed[i] = True
        elif access[i] not in _WALKABLE_ACCESS and access[i] not in _NO - {"no"}:
            problems[i].append(
                f"access {access[i]!r} is not one of {', '.join(sorted(_WALKABLE_ACCESS))}, "
                "no, private"
            )
        try:
            off_ground = int(float(layer[i] or 0)) != 0
        except ValueError:
            problems[i].append(f"layer {layer[i]!r} is not a whole number")
            off_ground = False
        if bridge[i] not in _NO:
            elevated[i], edge_kind[i] = True, "bridge"
        elif tunnel[i] not in _NO:
            elevated[i], edge_kind[i] = True, "tunnel"
        elif off_ground:
            elevated[i] = True
        if kinds[i]:
            if kinds[i] in WALK_EDGE_KINDS:
                edge_kind[i] = kinds[i]
            else:
                problems[i].append(f"kind {kinds[i]!r} is not one of {', '.join(WALK_EDGE_KINDS)}")

    line_types = {"LineString", "MultiLineString"}
    barrier_types = line_types | {"Polygon", "MultiPolygon"}
    ok = np.ones(n, dtype=bool)
    for i, g in enumerate(geoms):
        expected = barrier_types if is_barrier[i] else line_types
        if g is None:
            problems[i].append("missing or unparsable geometry; give the row a LineString")
        elif g.is_empty:
            problems[i].append("empty geometry")
        elif g.geom_type not in expected:
            problems[i].append(
                f"geometry is a {g.geom_type}, expected {' or '.join(sorted(expected))}"
            )
        elif not np.isfinite(shapely.get_coordinates(g)).all():
            problems[i].append("coordinates are not finite numbers (NaN or infinity)")
        elif datum.is_geographic and not _in_degree_range(g):
            x, y = shapely.get_coordinates(g)[0]
            problems[i].append(
                f"coordinates ({x:g}, {y:g}) are not longitude/latitude degrees; if the file "
                "is in a projected CRS, give its EPSG code with --datum (e.g. EPSG:4549)"
            )
        elif not g.is_valid:
            problems[i].append(
                f"invalid geometry: {shapely.is_valid_reason(g)} "
                "(fix it in a GIS; the importer does not repair geometries)"
            )
        else:
            continue
        ok[i] = False

    wgs = np.full(n, None, dtype=object)
    idx = np.flatnonzero(ok)
    if idx.size:
        wgs[idx] = _convert(geoms[idx], datum)
        for i in idx.tolist():
            if not np.isfinite(shapely.get_coordinates(wgs[i])).all() or not wgs[i].is_valid:
                problems[i].append(f"coordinates cannot be converted from {datum.label} to WGS84")
                ok[i] = False
    if district is not None:
        _check_inside(geoms, wgs, ok, problems, datum, district, codes)

    rejected = [RejectedRow(row=i + 1, reason="; ".join(p)) for i, p in enumerate(problems) if p]
    if rejected:
        raise ImportRejectedError("network", rejected, n)
    notes: list[str] = []
    if closed.any():
        notes.append(f"left out {int(closed.sum())} rows closed to walkers (access=no/private)")
    names = [
        None
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""
        else str(v).strip()
        for v in names_raw
    ]
    way = ~is_barrier & ~closed
    if not way.any():
        raise ImportFileError(
            "the file holds no walkable lines (every row is a barrier or closed to walkers)",
            zh="文件中没有可步行的线（每一行都是障碍或禁止步行）",
        )
    lines, owner = _noded(wgs, np.flatnonzero(way), elevated)
    edges = gpd.GeoDataFrame(
        {
            "forward": forward[owner],
            "backward": backward[owner],
            "kind": [edge_kind[o] for o in owner],
            "name": [names[o] for o in owner],
        },
        geometry=gpd.GeoSeries(lines, crs=4326),
    )
    b_idx = np.flatnonzero(is_barrier)
    barriers = gpd.GeoDataFrame(
        {"kind": [barrier_kind[i] for i in b_idx], "name": [names[i] for i in b_idx]},
        geometry=gpd.GeoSeries(wgs[b_idx], crs=4326),
    )
    return edges, barriers, notes


def _coords(g: BaseGeometry) -> NDArray[np.float64]:
    """The vertices of ``g`` outside the district check measures: every one (outside ones
    are the farthest)."""
    return np.asarray(shapely.get_coordinates(g), dtype=float)


def _in_degree_range(g: BaseGeometry) -> bool:
    minx, miny, maxx, maxy = g.bounds
    return bool(minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90)


def _check_inside(
    source: NDArray[np.object_],
    wgs: NDArray[np.object_],
    ok: NDArray[np.bool_],
    problems: list[list[str]],
    datum: Datum,
    district: BaseGeometry,
    codes: list[str],
) -> None:
    """Rows beyond ``DISTRICT_MARGIN_M`` of the district refused, with how far, and a datum
    hint when another reading of every row's coordinates fits the district."""
    idx = np.flatnonzero(ok)
    if not idx.size:
        return
    area = district.buffer(_buffer_deg(district, DISTRICT_MARGIN_M))
    shapely.prepare(area)
    inside = shapely.covers(area, wgs[idx])
    outside = idx[~inside]
    if not outside.size:
        return
    plane = MetricPlane.around(shapely.centroid(district).x)

    def to_plane(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return plane.to_plane(coords[:, 0], coords[:, 1])

    boundary = shapely.transform(district, to_plane)
    farthest = [
        float(np.max(shapely.distance(boundary, shapely.points(to_plane(_coords(wgs[i]))))))
        for i in outside
    ]
    hint = _datum_hint(source[idx], datum, area)
    where = "/".join(codes)
    for i, metres in zip(outside, farthest, strict=True):
        problems[i].append(f"runs outside the district {where}: up to {metres:,.0f} m beyond it")
        if hint:
            problems[i].append(hint)
        ok[i] = False


def _datum_hint(source: NDArray[np.object_], datum: Datum, area: BaseGeometry) -> str | None:
    """The likely mistake when every row fits the district read in another datum (or with
    lon and lat swapped); None when none does (the rows really lie beyond it)."""
    points = np.asarray(shapely.point_on_surface(source), dtype=object)
    given = datum.display_name
    tries: list[tuple[str, Any]] = []
    for alt in (GCJ02, BD09, WGS84):
        if alt.kind is datum.kind or (
            alt is WGS84 and datum.kind in (DatumKind.WGS84, DatumKind.CGCS2000)
        ):
            continue
        tries.append(
            (
                f"looks like {alt.display_name} coordinates given as {given}: "
                f"re-run with --datum {alt.label}",
                lambda pts, alt=alt: _convert(pts, alt),
            )
        )
    if datum.is_geographic:
        tries.append(
            (
                "lon and lat look swapped: exchange the two columns (or x and y)",
                lambda pts: _convert(shapely.transform(pts, lambda c: c[:, ::-1].copy()), datum),
            )
        )
    for hint, convert in tries:
        moved = convert(points)
        coords = shapely.get_coordinates(moved)
        if np.isfinite(coords).all() and bool(shapely.covers(area, moved).all()):
            return hint
    return None


def _noded(
    wgs: NDArray[np.object_], rows: NDArray[np.int64], elevated: NDArray[np.bool_]
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """The ways of ``rows`` as edges, and the row each came from.

    Ways on the ground are split wherever they meet or cross one another, and where
    a bridge or tunnel ends on them; bridges and tunnels (and ``layer`` ≠ 0) are
    joined only at their ends. Every piece runs the way its row runs (one-way rows
    keep their direction).
    """
    parts, index = shapely.get_parts(wgs[rows], return_index=True)
    part_row = rows[index]
    ground = ~elevated[part_row]
    out_lines: list[BaseGeometry] = list(parts[~ground])
    out_rows: list[int] = list(part_row[~ground])
    ground_parts = parts[ground]
    ground_rows = part_row[ground]
    if ground_parts.size:
        merged = shapely.union_all(ground_parts)
        pieces = list(shapely.get_parts(merged))
        bridges = parts[~ground]
        ends = shapely.get_coordinates(
            np.concatenate([shapely.get_point(bridges, 0), shapely.get_point(bridges, -1)])
        )
        if len(ends):
            pieces = _split_at(pieces, shapely.points(ends))
        pieces_arr = np.asarray([p for p in pieces if p.length > 0], dtype=object)
        middles = shapely.line_interpolate_point(pieces_arr, 0.5, normalized=True)
        tree = shapely.STRtree(ground_parts)
        p_idx, g_idx = tree.query(middles, predicate="dwithin", distance=1e-7)
        order = np.lexsort((g_idx, p_idx))
        p_idx, g_idx = p_idx[order], g_idx[order]
        first = np.r_[True, p_idx[1:] != p_idx[:-1]] if p_idx.size else np.zeros(0, bool)
        owner = np.full(len(pieces_arr), -1, dtype=np.int64)
        owner[p_idx[first]] = g_idx[first]
        for piece, g in zip(pieces_arr, owner, strict=True):
            if g < 0:
                continue
            line = ground_parts[g]
            a = line.project(shapely.get_point(piece, 0))
            b = line.project(shapely.get_point(piece, -1))
            out_lines.append(piece if a <= b else shapely.reverse(piece))
            out_rows.append(int(ground_rows[g]))
    return np.asarray(out_lines, dtype=object), np.asarray(out_rows, dtype=np.int64)


def _split_at(pieces: list[BaseGeometry], points: NDArray[np.object_]) -> list[BaseGeometry]:
    """``pieces`` split at those of ``points`` that lie inside them (not at their ends)."""
    tree = shapely.STRtree(points)
    out: list[BaseGeometry] = []
    for piece in pieces:
        near = tree.query(piece, predicate="dwithin", distance=1e-7)
        cut = [
            points[j]
            for j in near
            if points[j].distance(shapely.get_point(piece, 0)) > 1e-7
            and points[j].distance(shapely.get_point(piece, -1)) > 1e-7
        ]
        if not cut:
            out.append(piece)
            continue
        blade = shapely.multipoints(cut)
        out.extend(shapely.get_parts(shapely.ops.split(shapely.snap(piece, blade, 1e-7), blade)))
    return out
