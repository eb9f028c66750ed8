"""The four file formats of an export, each written from batches of features.

A batch is a table (a pandas DataFrame, or anything with ``to_pandas()``) with the
columns ``id``, ``geometry`` (WGS84 geometry as WKB bytes, or shapely geometries) and
the collection's properties, as ``gis.features.query.batches`` reads them with a
server-side cursor. Only one batch is in memory at a time:

- GeoJSON and CSV are produced as a stream of byte chunks, one per batch, while
  the batches are read (``geojson_chunks``, ``csv_chunks``);
- GeoPackage and Shapefile are written batch by batch to files in a folder
  (``write_geopackage``, ``write_shapefile``), which are then sent in chunks
  (``file_chunks``, and ``zip_chunks`` for the Shapefile's zip: written to a stream,
  never held whole).

The totals are known before the first feature (``Export.number_matched``, counted by
the query core in the same snapshot); a writer that writes a different number of
features raises ``ExportIncompleteError`` rather than leave a short file looking
whole. Coordinates are converted from WGS84 to ``Export.datum`` on the way out.

What each format holds (documented for users in ``docs/exports.md``):

- GeoJSON: a FeatureCollection with ``numberMatched``/``numberReturned``, coordinates
  to 7 decimals (~1 cm), in the datum asked for (lat/lon order only where
  ``Export.lat_lon``: EPSG:4326 / EPSG:4490 asked by URI, as OGC API Features Part 2
  requires).
- CSV: UTF-8 with a byte-order mark (Excel then reads Chinese), the machine field
  names as headers (the same as the API's; Chinese titles are in the docs), ``id``
  first and the geometry last: ``lon``, ``lat`` for points, ``wkt`` otherwise.
- GeoPackage: one layer named after the collection (booleans as 1/0), EPSG:4326 (or 4490 for
  CGCS2000); GCJ-02 and BD-09 have no EPSG code, so the layer has no CRS and its
  description says the datum.
- Shapefile: ``.shp .shx .dbf .cpg`` (UTF-8) and ``.prj`` (not for GCJ-02/BD-09), field
  names per ``gis.exports.dbf_names``; dates and times as ISO 8601 text; a text longer
  than a DBF field's 254 bytes is cut at a character boundary and the README counts
  the values cut (the GeoPackage keeps them whole).
"""

from __future__ import annotations

import csv
import io
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import shapely

from gis.errors import ConflictError
from gis.exports.dbf_names import dbf_names
from gis.geo.datum import CGCS2000, WGS84, Datum, from_wgs84, passes_through
from gis.geo.geojson import GEOJSON_DECIMALS, json_value
from gis.lang import Texts
from gis.progress import Advance, ignore

CHUNK_BYTES = 1 << 20
"""Bytes per chunk when a written file is sent on."""

DBF_TEXT_BYTES = 254
"""Bytes a DBF character field holds."""


class Format(StrEnum):
    GEOJSON = "geojson"
    GPKG = "gpkg"
    SHP = "shp"
    CSV = "csv"


@dataclass(frozen=True)
class FormatInfo:
    media_type: str
    extension: str
    title: Texts


FORMATS: dict[Format, FormatInfo] = {
    Format.GEOJSON: FormatInfo("application/geo+json", "geojson", Texts("GeoJSON", "GeoJSON")),
    Format.GPKG: FormatInfo(
        "application/geopackage+sqlite3", "gpkg", Texts("GeoPackage", "GeoPackage")
    ),
    Format.SHP: FormatInfo(
        "application/zip", "shp.zip", Texts("Shapefile（zip）", "Shapefile (zip)")
    ),
    Format.CSV: FormatInfo("text/csv; charset=utf-8", "csv", Texts("CSV 表格", "CSV table")),
}


class ExportIncompleteError(ConflictError):
    """A writer wrote another number of features than the export announced (the data
    changed between the count and the reads: only possible outside one snapshot)."""


@dataclass(frozen=True)
class ExportField:
    """One property of the collection: its name, JSON type (string, integer, number,
    boolean, date, date-time) and Chinese title (for the Shapefile's README)."""

    name: str
    type: str
    title: str = ""


@dataclass(frozen=True)
class Export:
    """What one export holds, known before its first feature."""

    collection: str
    """The collection id: the GeoPackage layer, the Shapefile's file names."""
    title: Texts
    geometry_type: str
    """GeoJSON geometry type of every feature: Point, MultiPolygon, ..."""
    fields: tuple[ExportField, ...]
    number_matched: int
    """Features matching the filters."""
    number_returned: int
    """Features in the file: ``number_matched`` unless a limit or offset cut it."""
    datum: Datum = WGS84
    lat_lon: bool = False
    """GeoJSON coordinates as latitude, longitude (EPSG:4326/4490 asked by URI)."""
    links: tuple[dict[str, Any], ...] = ()
    """Links written into the GeoJSON body (self, next when cut)."""
    time_stamp: str | None = None
    """When the selection was read (ISO 8601), for the GeoJSON ``timeStamp``."""
    crs_uri: str | None = None
    """The CRS of the coordinates as a URI (README and GeoJSON ``crs`` member)."""

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


Batch = Any
"""A table of features: ``id``, ``geometry`` (WKB or shapely; or ``geom``), the properties."""

GEOMETRY = "geometry"


def _frame(batch: Batch) -> pd.DataFrame:
    if isinstance(batch, pd.DataFrame):
        return batch
    to_pandas = getattr(batch, "to_pandas", None)
    if to_pandas is not None:
        frame: pd.DataFrame = to_pandas()
        return frame
    return pd.DataFrame(batch)


def _raw_geometries(frame: pd.DataFrame) -> np.ndarray:
    values = frame[GEOMETRY if GEOMETRY in frame else "geom"].to_numpy(dtype=object)
    if len(values) and not isinstance(values[0], shapely.Geometry | None):
        values = np.array([None if v is None else bytes(v) for v in values], dtype=object)
        return np.asarray(shapely.from_wkb(values), dtype=object)
    return values


def _converter(datum: Datum) -> Callable[[np.ndarray], np.ndarray]:
    def convert(xy: np.ndarray) -> np.ndarray:
        lon, lat = from_wgs84(xy[:, 0], xy[:, 1], datum)
        return np.column_stack([lon, lat])

    return convert


def geometries(frame: pd.DataFrame, datum: Datum) -> np.ndarray:
    """The batch's geometries in ``datum`` (lon/lat), as a shapely array."""
    geoms = _raw_geometries(frame)
    if not passes_through(datum):
        geoms = np.asarray(shapely.transform(geoms, _converter(datum)), dtype=object)
    return geoms


def _rounded(geoms: np.ndarray, lat_lon: bool = False) -> np.ndarray:
    def fix(xy: np.ndarray) -> np.ndarray:
        out = np.round(xy, GEOJSON_DECIMALS)
        return out[:, ::-1] if lat_lon else out

    return np.asarray(shapely.transform(geoms, fix), dtype=object)


class _Tally:
    """Counts the features written and checks them against the announced total."""

    def __init__(self, export: Export, advance: Advance) -> None:
        self.export = export
        self.advance = advance
        self.written = 0

    def add(self, n: int) -> None:
        self.written += n
        if n:
            self.advance(n)

    def check(self) -> None:
        if self.written != self.export.number_returned:
            raise ExportIncompleteError(
                f"the export of {self.export.collection} announced "
                f"{self.export.number_returned:,} features but {self.written:,} were read; "
                "the data changed while it was written: export again",
                zh=f"{self.export.collection} 的导出预告 {self.export.number_returned:,} 条，"
                f"实际读出 {self.written:,} 条：导出期间数据有变动，请重新导出",
            )


_DTYPES = {"integer": "Int64", "number": "float64", "boolean": "boolean"}


def _missing(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def _iso(value: Any) -> str | None:
    if _missing(value):
        return None
    text = json_value(value.to_pydatetime() if isinstance(value, pd.Timestamp) else value)
    return str(text)


def typed(frame: pd.DataFrame, fields: Sequence[ExportField], *, text_times: bool) -> pd.DataFrame:
    """``id`` and the properties with one dtype per field type, the same in every batch
    (the first batch fixes a file's schema): integers and booleans nullable, dates ISO
    text, times ISO text (``text_times``) or UTC timestamps, text as str or None."""
    out = pd.DataFrame(index=frame.index)
    out["id"] = frame["id"]
    for f in fields:
        column = frame[f.name] if f.name in frame else pd.Series([None] * len(frame), dtype=object)
        if f.type in _DTYPES:
            out[f.name] = column.astype(_DTYPES[f.type]).to_numpy()
        elif f.type == "date" or (f.type == "date-time" and text_times):
            out[f.name] = pd.Series([_iso(v) for v in column], index=frame.index, dtype=object)
        elif f.type == "date-time":
            out[f.name] = pd.to_datetime(column, utc=True).to_numpy()
        else:
            text = column.astype(object)
            out[f.name] = text.where(text.notna(), None).to_numpy()
    return out


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=json_value, option=orjson.OPT_SERIALIZE_NUMPY)


def _property_columns(frame: pd.DataFrame, fields: Sequence[ExportField]) -> list[list[Any]]:
    """Each property's values as JSON can carry them (None where missing)."""
    table = typed(frame, fields, text_times=True)
    columns = []
    for f in fields:
        values = table[f.name].astype(object)
        columns.append(values.where(values.notna(), None).tolist())
    return columns


def geojson_chunks(
    export: Export, batches: Iterable[Batch], advance: Advance = ignore
) -> Iterator[bytes]:
    """A FeatureCollection, streamed: the head with the totals, then one chunk per batch."""
    head: dict[str, Any] = {
        "type": "FeatureCollection",
        "name": export.collection,
        "numberMatched": export.number_matched,
        "numberReturned": export.number_returned,
    }
    if export.time_stamp:
        head["timeStamp"] = export.time_stamp
    if export.links:
        head["links"] = list(export.links)
    yield _dumps(head)[:-1] + b',"features":['
    tally = _Tally(export, advance)
    names = export.names
    for batch in batches:
        frame = _frame(batch)
        if not len(frame):
            continue
        geoms = _rounded(geometries(frame, export.datum), export.lat_lon)
        texts = shapely.to_geojson(geoms)
        features = [
            {
                "type": "Feature",
                "id": row[0],
                "geometry": None if row[1] is None else orjson.Fragment(row[1]),
                "properties": dict(zip(names, row[2:], strict=True)),
            }
            for row in zip(
                frame["id"].tolist(), texts, *_property_columns(frame, export.fields), strict=True
            )
        ]
        yield (b"," if tally.written else b"") + _dumps(features)[1:-1]
        tally.add(len(frame))
    tally.check()
    yield b"]}\n"


def csv_chunks(
    export: Export, batches: Iterable[Batch], advance: Advance = ignore
) -> Iterator[bytes]:
    """A table in UTF-8 with a byte-order mark: ``id``, the properties, then ``lon``,
    ``lat`` (points) or ``wkt`` (any other geometry), in the export's datum."""
    points = export.geometry_type == "Point"
    header = ["id", *export.names, *(["lon", "lat"] if points else ["wkt"])]
    text = io.StringIO()
    csv.writer(text).writerow(header)
    yield ("\ufeff" + text.getvalue()).encode("utf-8")
    tally = _Tally(export, advance)
    for batch in batches:
        frame = _frame(batch)
        if not len(frame):
            continue
        geoms = geometries(frame, export.datum)
        table = typed(frame, export.fields, text_times=True)
        if points:
            # an empty cell for a missing or empty point
            present = np.asarray(geoms, dtype=object).copy()
            present[shapely.is_empty(present)] = None
            table["lon"] = np.round(shapely.get_x(present), GEOJSON_DECIMALS)
            table["lat"] = np.round(shapely.get_y(present), GEOJSON_DECIMALS)
        else:
            table["wkt"] = shapely.to_wkt(geoms, rounding_precision=GEOJSON_DECIMALS, trim=True)
        yield table.to_csv(index=False, header=False, lineterminator="\r\n").encode("utf-8")
        tally.add(len(frame))
    tally.check()


# ---- files: GeoPackage and Shapefile ------------------------------------------------------


def _file_typed(
    frame: pd.DataFrame, fields: Sequence[ExportField], *, text_times: bool
) -> pd.DataFrame:
    """``typed`` for GDAL: booleans as integers 1/0 with nulls kept (pyogrio would write a
    missing boolean as false)."""
    table = typed(frame, fields, text_times=text_times)
    for f in fields:
        if f.type == "boolean":
            table[f.name] = table[f.name].astype("Int16")
    return table


def _empty(export: Export) -> pd.DataFrame:
    columns: dict[str, Any] = {
        "id": pd.Series([], dtype="Int64"),
        GEOMETRY: pd.Series([], dtype=object),
    }
    for f in export.fields:
        columns[f.name] = pd.Series([], dtype=object)
    return pd.DataFrame(columns)


def _epsg(datum: Datum) -> str | None:
    if datum.kind in (WGS84.kind, CGCS2000.kind):
        return f"EPSG:{datum.epsg}"
    return None


def datum_statement(export: Export) -> Texts:
    """What the coordinates are, in words (layer description, README)."""
    epsg = _epsg(export.datum)
    name = export.datum.display_name
    if epsg:
        return Texts(
            f"坐标：{name}（{epsg}）经纬度，经度在前。",
            f"Coordinates: {name} ({epsg}) longitude, latitude.",
        )
    return Texts(
        f"坐标：{name} 经纬度（经度在前）。{name} 没有 EPSG 代码，文件未声明坐标系；"
        "用于高德、腾讯（GCJ-02）或百度（BD-09）底图之上。",
        f"Coordinates: {name} longitude, latitude. {name} has no EPSG code, so the file "
        "declares no CRS; it lines up with Amap/Tencent (GCJ-02) or Baidu (BD-09) base maps.",
    )


def _write(
    export: Export,
    batches: Iterable[Batch],
    path: Path,
    *,
    driver: str,
    prepare: Callable[[pd.DataFrame], pd.DataFrame],
    layer_options: dict[str, str],
    advance: Advance,
    dataset_options: dict[str, str] | None = None,
) -> int:
    import geopandas as gpd
    import pyogrio

    tally = _Tally(export, advance)
    crs = _epsg(export.datum)
    multi = export.geometry_type.startswith("Multi")

    def write(frame: pd.DataFrame, append: bool) -> None:
        table = prepare(frame)
        geoms = geometries(frame, export.datum) if len(frame) else np.array([], dtype=object)
        gdf = gpd.GeoDataFrame(table, geometry=list(geoms), crs=crs)
        with warnings.catch_warnings():
            # GCJ-02 and BD-09 have no CRS to declare: the layer's description says the datum.
            warnings.filterwarnings(
                "ignore", message="'crs' was not provided", category=UserWarning
            )
            pyogrio.write_dataframe(
                gdf,
                path,
                layer=export.collection,
                driver=driver,
                geometry_type=export.geometry_type,
                promote_to_multi=multi,
                append=append,
                layer_options=None if append else layer_options,
                dataset_options=None if append else dataset_options,
            )

    for batch in batches:
        frame = _frame(batch)
        if not len(frame):
            continue
        write(frame.reset_index(drop=True), append=tally.written > 0)
        tally.add(len(frame))
    if tally.written == 0:
        write(_empty(export), append=False)
    tally.check()
    return tally.written


def write_geopackage(
    export: Export, batches: Iterable[Batch], folder: Path, advance: Advance = ignore
) -> Path:
    """The features as ``folder/<collection>.gpkg``: one layer named after the collection."""
    path = folder / f"{export.collection}.gpkg"
    statement = datum_statement(export)
    _write(
        export,
        batches,
        path,
        driver="GPKG",
        prepare=lambda frame: _file_typed(frame, export.fields, text_times=False),
        layer_options={
            "IDENTIFIER": export.title.zh,
            "DESCRIPTION": f"{export.title.zh} ({export.title.en}). {statement.zh} {statement.en}",
            "FID": "fid",
        },
        # GeoPackage 1.2: what GDAL 3.6 (Debian 12) and QGIS 3.x read without a warning.
        dataset_options={"VERSION": "1.2"},
        advance=advance,
    )
    return path


@dataclass
class Shapefile:
    """The files of a written Shapefile and what its README says."""

    files: list[Path]
    names: dict[str, str]
    """Property name → DBF column name."""
    shortened: dict[str, int] = field(default_factory=dict)
    """Per property, the values cut to the DBF's 254 bytes."""
    written: int = 0


def _cut_utf8(text: str) -> str:
    data = text.encode("utf-8")[:DBF_TEXT_BYTES]
    return data.decode("utf-8", errors="ignore")


def write_shapefile(
    export: Export, batches: Iterable[Batch], folder: Path, advance: Advance = ignore
) -> Shapefile:
    """The features as ``folder/<collection>.shp`` (.shx .dbf .cpg .prj beside it), with
    the short field names of ``dbf_names``."""
    names = dbf_names(["id", *export.names])
    shortened: dict[str, int] = {}
    texts = [f.name for f in export.fields if f.type == "string"]

    def prepare(frame: pd.DataFrame) -> pd.DataFrame:
        table = _file_typed(frame, export.fields, text_times=True)
        for name in texts:
            long = [
                isinstance(v, str) and len(v.encode("utf-8")) > DBF_TEXT_BYTES for v in table[name]
            ]
            if any(long):
                shortened[name] = shortened.get(name, 0) + sum(long)
                table[name] = [
                    _cut_utf8(v) if cut else v for v, cut in zip(table[name], long, strict=True)
                ]
        return table.rename(columns=names)

    path = folder / f"{export.collection}.shp"
    written = _write(
        export,
        batches,
        path,
        driver="ESRI Shapefile",
        prepare=prepare,
        layer_options={"ENCODING": "UTF-8"},
        advance=advance,
    )
    files = sorted(
        p for p in folder.iterdir() if p.stem == export.collection and p.suffix != ".gpkg"
    )
    if _epsg(export.datum) is None:
        prj = folder / f"{export.collection}.prj"
        if prj.exists():
            prj.unlink()
            files.remove(prj)
    return Shapefile(files, names, shortened, written)


def shapefile_readme(export: Export, shapefile: Shapefile) -> str:
    """The README.txt of a zipped Shapefile: what it holds, its datum, its field table."""
    statement = datum_statement(export)
    titles = {f.name: f.title for f in export.fields}
    types = {f.name: f.type for f in export.fields} | {"id": "integer/string"}
    lines = [
        f"{export.title.zh} ({export.title.en}) — {export.collection}",
        "",
        f"要素 features: {shapefile.written:,} (numberMatched {export.number_matched:,}, "
        f"numberReturned {export.number_returned:,})",
        statement.zh,
        statement.en,
        "编码 Encoding: UTF-8 (.cpg). 日期时间为 ISO 8601 文本 Dates and times as ISO 8601 text;"
        " 布尔值 booleans as 1/0.",
        "",
        "DBF 字段名最长 10 个字符，对照表 / DBF field names (max 10 characters):",
        "",
        f"{'DBF':<10}  {'field':<24}  {'type':<14}  title",
    ]
    for name, short in shapefile.names.items():
        lines.append(f"{short:<10}  {name:<24}  {types.get(name, ''):<14}  {titles.get(name, '')}")
    lines.append("")
    if shapefile.shortened:
        lines.append(
            "以下文本超过 DBF 字段的 254 字节，已在字符边界截断（GeoPackage 与 GeoJSON 保留全文）/ "
            "Texts longer than a DBF field's 254 bytes, cut at a character boundary (the "
            "GeoPackage and GeoJSON keep them whole):"
        )
        for name, n in shapefile.shortened.items():
            lines.append(f"  {name}: {n:,}")
    else:
        lines.append("没有文本被截断 / No text was cut.")
    return "\r\n".join(lines) + "\r\n"


# ---- sending files ------------------------------------------------------------------------


def file_chunks(path: Path) -> Iterator[bytes]:
    """A file's bytes in chunks of ``CHUNK_BYTES``."""
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


class _Pipe(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are taken as they come (zipfile then
    writes data descriptors instead of seeking back)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_chunks(files: Sequence[Path], extra: dict[str, bytes]) -> Iterator[bytes]:
    """A zip of ``files`` (by their names) and ``extra`` (name → bytes), streamed."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in files:
            large = path.stat().st_size >= zipfile.ZIP64_LIMIT
            info = zipfile.ZipInfo(path.name, time.localtime(path.stat().st_mtime)[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as source, archive.open(info, "w", force_zip64=large) as dest:
                while chunk := source.read(CHUNK_BYTES):
                    dest.write(chunk)
                    if data := pipe.take():
                        yield data
        for name, data in extra.items():
            archive.writestr(name, data)
    yield pipe.take()


@dataclass
class Written:
    """An export ready to send: its chunks (lazy for GeoJSON and CSV, read from the
    written file for GeoPackage and Shapefile) and its size where known."""

    chunks: Iterator[bytes]
    size: int | None = None


def write_export(
    fmt: Format,
    export: Export,
    batches: Iterable[Batch],
    folder: Path,
    advance: Advance = ignore,
) -> Written:
    """The export in ``fmt``. GeoJSON and CSV are written as their chunks are taken
    (the batches are read then); GeoPackage and Shapefile are written into ``folder``
    now and only sent later, so the caller keeps ``folder`` until the chunks are taken."""
    if fmt is Format.GEOJSON:
        return Written(geojson_chunks(export, batches, advance))
    if fmt is Format.CSV:
        return Written(csv_chunks(export, batches, advance))
    if fmt is Format.GPKG:
        path = write_geopackage(export, batches, folder, advance)
        return Written(file_chunks(path), path.stat().st_size)
    shapefile = write_shapefile(export, batches, folder, advance)
    readme = shapefile_readme(export, shapefile).encode("utf-8")
    return Written(zip_chunks(shapefile.files, {"README.txt": readme}))
