"""Reading a file into rows: formats, size limit, column names, and the CRS it declares."""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
import shapely.errors
from numpy.typing import NDArray
from pyproj import CRS

from gis.errors import DatumMismatchError, ImportFileError, PayloadTooLargeError
from gis.geo.datum import Datum, DatumKind
from gis.imports._cells import as_text, is_blank
from gis.imports._spec import SPECS

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".zip": "zipped Shapefile",
    ".csv": "CSV",
}
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")
"""How text files are read, in turn: Excel on a Chinese Windows saves CSV in GB18030/GBK."""
LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


@dataclass
class SourceTable:
    """A file's rows: attributes by normalised column name, geometry in source coordinates.

    ``geometry_problems`` holds, per row, why no geometry could be built (a CSV
    cell that is not a number, unparsable WKT); ``None`` where there is none.
    """

    attributes: pd.DataFrame
    geometry: NDArray[np.object_]
    geometry_problems: list[str | None]
    geometry_columns: tuple[str, ...] = ()

    @property
    def n_rows(self) -> int:
        return len(self.geometry)

    def idents(self, column: str | None) -> list[str]:
        """The codes or ext_ids in ``column`` as the checks read them, to look up the taken ones."""
        if column is None:
            return []
        return [as_text(v) for v in self.attributes[column].tolist() if not is_blank(v)]


def check_size(path: Path, max_bytes: int) -> int:
    """Size of the file (with a Shapefile's sidecar files) in bytes, refused above ``max_bytes``."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    parts = (
        [path.with_suffix(s) for s in _SHAPEFILE_PARTS] if path.suffix.lower() == ".shp" else [path]
    )
    size = sum(p.stat().st_size for p in parts if p.is_file())
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"{path.name} is {size / 1e6:.1f} MB, over the import limit of "
            f"{max_bytes / 1e6:.1f} MB; split the file, or raise GRIDMAP_MAX_IMPORT_BYTES"
        )
    return size


def read_source(
    path: Path,
    layer: str,
    *,
    lon_col: str | None = None,
    lat_col: str | None = None,
    layer_name: str | None = None,
) -> tuple[SourceTable, CRS | None]:
    """The file's rows and the CRS it declares (None if it declares none)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImportFileError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    if fmt in ("CSV", "GeoJSON"):
        _refuse_nul(path, _NUL_JSON if fmt == "GeoJSON" else _NUL_BYTE)
    if fmt == "CSV":
        table, crs = _read_csv(path, layer, lon_col, lat_col), None
    else:
        table, crs = _read_gis(path, fmt, layer_name)
    if table.n_rows == 0:
        raise ImportFileError(f"{path.name}: contains no rows to import")
    return table, crs


_NUL_BYTE = re.compile(rb"\x00")
_NUL_JSON = re.compile(rb"\x00|\\u0000", re.IGNORECASE)


def _refuse_nul(path: Path, pattern: re.Pattern[bytes]) -> None:
    """Refuse a text file holding a NUL character (in GeoJSON also as the escape ``\\u0000``).

    A NUL cannot be stored in any text column, and the readers lose it without
    a word: GDAL cuts a string at it ("幼\\u0000园" arrives as "幼"). So it is
    looked for in the bytes, before reading. (An unpaired surrogate GDAL turns
    into U+FFFD, which the row checks refuse.)
    """
    raw = path.read_bytes()
    found = pattern.search(raw)
    if found is not None and _is_text(raw):  # not text at all: the reader says what it is
        line = raw.count(b"\n", 0, found.start()) + 1
        raise ImportFileError(
            f"{path.name}: line {line} holds a NUL character (U+0000), which cannot be "
            "stored and would cut its text short; remove it and import again"
        )


def _is_text(raw: bytes) -> bool:
    """Whether ``raw`` reads as text in an encoding the readers take."""
    for encoding in TEXT_ENCODINGS:
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def _normalise_columns(path: Path, columns: Sequence[object]) -> list[str]:
    names = [str(c).strip().lower() for c in columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ImportFileError(f"{path.name}: column name(s) used twice: {', '.join(dupes)}")
    return names


def _read_gis(path: Path, fmt: str, layer_name: str | None) -> tuple[SourceTable, CRS | None]:
    failures = (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        OSError,
        ValueError,
    )
    _check_shapefile_parts(path, fmt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = [str(name) for name, _ in pyogrio.list_layers(path)]
            if layer_name is not None and layer_name not in layers:
                raise ImportFileError(
                    f"{path.name} has no layer {layer_name!r}; its layers: {', '.join(layers)}"
                )
            if layer_name is None and len(layers) > 1:
                raise ImportFileError(
                    f"{path.name} has {len(layers)} layers ({', '.join(layers)}); "
                    "choose one with --gpkg-layer"
                )
            layer = layer_name or layers[0]
            # A geometry GEOS cannot build (an unclosed ring) is None here and
            # explained per row below, instead of failing the whole read.
            frame = pyogrio.read_dataframe(path, layer=layer, on_invalid="ignore")
            geometry = np.asarray(frame.geometry.array, dtype=object)
            problems = _unbuildable(path, layer, geometry)
    except failures as exc:
        raise ImportFileError(_unreadable(path, fmt, exc)) from exc
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    attributes.columns = _normalise_columns(path, attributes.columns)
    table = SourceTable(
        attributes=attributes.reset_index(drop=True),
        geometry=geometry,
        geometry_problems=problems,
    )
    return table, frame.crs


_GEOS_REASONS = (
    (
        "do not form a closed linestring",
        "a polygon ring is not closed (its last point must repeat its first)",
    ),
    ("must be 0 or >= 4", "a polygon ring has fewer than 4 points"),
    ("must be 0 or >= 2", "a line has fewer than 2 points"),
)


def _unbuildable(path: Path, layer: str, geometry: NDArray[np.object_]) -> list[str | None]:
    """Why each row without a geometry has none, where the file holds one GEOS cannot build.

    Read again, as raw WKB, only when some row came back without geometry: a
    null geometry stays None here (reported as missing later).
    """
    problems: list[str | None] = [None] * len(geometry)
    absent = [i for i, g in enumerate(geometry) if g is None]
    if not absent:
        return problems
    _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[])
    for i in absent:
        if wkb[i] is not None:
            problems[i] = (
                f"invalid geometry: {_why_not(shapely.from_wkb, wkb[i])}; fix it in a GIS "
                "(the importer does not repair geometries)"
            )
    return problems


def _why_not(build: Callable[[Any], Any], value: Any) -> str:
    """Why GEOS refuses to build a geometry from ``value``, in words a user can act on."""
    try:
        build(value)
    except shapely.errors.ShapelyError as exc:
        message = str(exc).split(": ", 1)[-1]
        return next((r for key, r in _GEOS_REASONS if key in message), message)
    return "not a geometry"


def _unreadable(path: Path, fmt: str, exc: Exception) -> str:
    """One sentence for a file GDAL cannot open: what, and what to do (not GDAL's own advice)."""
    message = str(exc).split("; It might help", 1)[0].rstrip(".")
    if "not recognized as" in message or "not a supported file format" in message:
        if fmt == "zipped Shapefile":
            return _no_shapefile_in_zip(path)
        return (
            f"{path.name}: not a {fmt} (GDAL does not recognise its content); check that "
            f"it is the file you meant, or export it again from your GIS as {fmt}"
        )
    message = message.replace(str(path), path.name)
    return (
        f"{path.name}: cannot be read as {fmt} ({message}); the file is damaged or cut off: "
        "export it again from your GIS"
    )


def _check_shapefile_parts(path: Path, fmt: str) -> None:
    """A Shapefile is several files; GDAL reads a .shp without its .dbf as rows without
    columns, which would be reported as every column missing. Say which file is missing."""
    if fmt == "Shapefile":
        present = {p.name.lower() for p in path.parent.iterdir()}
        stems = {path.stem.lower()}
    elif fmt == "zipped Shapefile" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            present = {Path(n).name.lower() for n in archive.namelist()}
        stems = {Path(n).stem for n in present if n.endswith(".shp")}
    else:
        return
    for stem in sorted(stems):
        missing = [f"{stem}{s}" for s in (".shx", ".dbf") if f"{stem}{s}" not in present]
        if missing:
            raise ImportFileError(
                f"{path.name}: the Shapefile's {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing (a Shapefile "
                "is several files); keep its .shp, .shx, .dbf and .prj together"
                + (" in the zip" if fmt == "zipped Shapefile" else "")
            )


def _no_shapefile_in_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return f"{path.name}: not a zip archive; zip the Shapefile's .shp, .shx, .dbf and .prj"
    shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
    return (
        f"{path.name}: holds no readable Shapefile (found: {shown or 'nothing'}); zip the "
        ".shp with its .shx, .dbf and .prj"
    )


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_csv_frame(path: Path) -> pd.DataFrame:
    """The CSV's cells as text, the first line as column names.

    Read without a header, then the first row taken as one: pandas would
    otherwise take the extra cells of a row longer than the header as an
    index and shift every column of the file silently. Here that row is an
    error naming its line.
    """
    for encoding in TEXT_ENCODINGS:
        try:
            cells = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                encoding=encoding,
                skipinitialspace=True,
                header=None,
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as exc:
            raise ImportFileError(
                f"{path.name}: the CSV file is empty; it needs a header line with the column "
                "names, then one line per row"
            ) from exc
        except (pd.errors.ParserError, ValueError, OSError) as exc:
            ragged = _FIELDS.search(str(exc))
            if ragged:
                header, line, saw = ragged.groups()
                raise ImportFileError(
                    f"{path.name}: line {line} has {saw} cells, the first line {header}; "
                    'quote cells that contain a comma ("a, b") or remove the extra cells'
                ) from exc
            raise ImportFileError(f"{path.name}: cannot be read as CSV: {exc}") from exc
        frame = cells.iloc[1:].reset_index(drop=True)
        frame.columns = list(cells.iloc[0])
        return frame
    raise ImportFileError(
        f"{path.name}: neither UTF-8 nor GB18030 text, so not a CSV file; save it again as "
        "CSV (UTF-8) from Excel or WPS"
    )


def _pick(
    path: Path, names: list[str], explicit: str | None, defaults: Sequence[str]
) -> str | None:
    if explicit is not None:
        wanted = explicit.strip().lower()
        if wanted not in names:
            raise ImportFileError(f"{path.name}: no column {explicit!r}; found: {', '.join(names)}")
        return wanted
    return next((n for n in defaults if n in names), None)


def _read_csv(path: Path, layer: str, lon_col: str | None, lat_col: str | None) -> SourceTable:
    frame = _read_csv_frame(path)
    frame.columns = _normalise_columns(path, frame.columns)
    names = list(frame.columns)
    n = len(frame)
    problems: list[str | None] = [None] * n
    wkt_col = None if (lon_col or lat_col) else next((c for c in WKT_NAMES if c in names), None)
    if wkt_col is not None:
        raw = [None if is_blank(v) else str(v) for v in frame[wkt_col]]
        geometry = np.asarray(shapely.from_wkt(raw, on_invalid="ignore"), dtype=object)
        for i, (text_value, geom) in enumerate(zip(raw, geometry, strict=True)):
            if text_value is not None and geom is None:
                reason = _why_not(shapely.from_wkt, text_value)
                problems[i] = (
                    f"unparsable WKT in column {wkt_col}: {reason}, in {text_value[:60]!r}; "
                    "fix the text (e.g. POLYGON((x y, x y, x y, x y)))"
                )
        used: tuple[str, ...] = (wkt_col,)
    else:
        lon = _pick(path, names, lon_col, LON_NAMES)
        lat = _pick(path, names, lat_col, LAT_NAMES)
        if lon is None or lat is None:
            polygons = "Point" not in SPECS[layer].geometry_types
            need = (
                f"a CSV of {layer} needs its polygons as WKT in a column named "
                f"{' or '.join(WKT_NAMES)}"
                if polygons
                else (
                    f"no lon/lat columns (looked for {'/'.join(LON_NAMES)} and "
                    f"{'/'.join(LAT_NAMES)}, or WKT in {'/'.join(WKT_NAMES)}); "
                    "name them with --lon-col and --lat-col"
                )
            )
            raise ImportFileError(f"{path.name}: {need}; found: {', '.join(names)}")
        xs = np.full(n, np.nan)
        ys = np.full(n, np.nan)
        for i, (x, y) in enumerate(zip(frame[lon], frame[lat], strict=True)):
            bad = [
                f"missing {name}" if is_blank(v) else f"{name} {v!r} is not a number"
                for name, v in ((lon, x), (lat, y))
                if not _is_float(v)
            ]
            if bad:
                problems[i] = "; ".join(bad)
            else:
                xs[i], ys[i] = float(x), float(y)
        geometry = np.full(n, None, dtype=object)
        good = np.array([p is None for p in problems], dtype=bool)
        geometry[good] = shapely.points(xs[good], ys[good])
        used = (lon, lat)
    return SourceTable(
        attributes=frame.reset_index(drop=True),
        geometry=geometry,
        geometry_problems=problems,
        geometry_columns=used,
    )


def _is_float(value: Any) -> bool:
    if is_blank(value):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


_LONLAT_EPSG = (4326, 4490)


def _same_crs(declared: CRS, epsg: int) -> bool:
    return bool(
        declared.equals(CRS.from_epsg(epsg), ignore_axis_order=True)
        or declared.to_epsg(min_confidence=70) == epsg
    )


def _describe(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg} ({crs.name})" if epsg else repr(crs.name)


def check_declared_crs(declared: CRS | None, datum: Datum, path: Path) -> None:
    """Refuse a file whose declared CRS contradicts the datum the caller named.

    WGS84, CGCS2000, GCJ-02 and BD-09 are all longitude/latitude, and a file
    of GCJ-02 points is normally labelled EPSG:4326 by the tool that wrote
    it; so any of these four accepts a file declaring EPSG:4326 or 4490. An
    EPSG datum must match the declared CRS exactly.
    """
    if declared is None:
        return
    if datum.kind is DatumKind.EPSG:
        assert datum.epsg is not None
        if _same_crs(declared, datum.epsg):
            return
        wanted = f"--datum {datum.label}"
    else:
        if any(_same_crs(declared, code) for code in _LONLAT_EPSG):
            return
        wanted = f"--datum {datum.label}"
    raise DatumMismatchError(
        f"{path.name} declares its coordinates as {_describe(declared)}, which contradicts "
        f"{wanted}. If the declared CRS is right, re-run with --datum "
        f"{_suggest(declared)}; if the file's CRS label is wrong, fix the label first."
    )


def _suggest(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else "<its EPSG code>"
