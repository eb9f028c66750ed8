"""`gridmap participation import`: councils or items from CSV or GeoPackage, all or nothing.

Items (the default; ``docs/participation.md`` lists the columns): ``id`` (the
source's id, stored as ``ext_id``, unique), ``kind``, ``title``, ``community``
(12-digit code, required), ``grid`` (15 digits, in the community), ``status``
and the date of each step reached (``proposed_on`` … ``evaluated_on``,
``ended_on``), ``budget_cny``, ``spent_cny``, ``facility_id``, ``council`` (a
council's ``id`` as imported), ``description``, and the place: ``lon``/``lat``
columns in a CSV, the point geometry of a GeoPackage or GeoJSON layer, in the
``datum`` the caller names (WGS84 by default; GCJ-02 or BD-09 converted).
Councils (``kind="councils"``): ``id``, ``community``, ``name``, ``members``,
``composition``, ``established_on``.

Every row is checked before anything is written: duplicate ids (in the file or
already stored), unknown community or grid codes, a grid outside its
community, unknown kinds and statuses, dates that contradict the status,
negative or non-numeric amounts, a place outside its community (with a hint
when the point fits read as GCJ-02 or BD-09). Bad rows are reported together
with their row numbers (the first row after the header is row 1) in an
``ImportRejectedError``, and nothing is written. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import (
    GridmapError,
    ImportFileError,
    ImportRejectedError,
    PayloadTooLargeError,
    RejectedRow,
)
from gis.geo.datum import BD09, GCJ02, WGS84, Datum, DatumKind, to_wgs84
from gis.participation import councils, items, kinds
from gis.principal import Principal
from gis.settings import ImportSettings

FORMATS = {".csv": "CSV", ".gpkg": "GeoPackage", ".geojson": "GeoJSON", ".json": "GeoJSON"}
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")
PLACE_TOLERANCE_DEG = 0.0005
"""How far (about 50 m) a place may lie beyond its community's boundary: a project on
the boundary road. GCJ-02 shifts Weifang by about 500 m, well beyond it."""
ITEM_DATES = (*items.DATE_FIELDS, "ended_on")

Kind = Literal["items", "councils"]


@dataclass(frozen=True)
class ImportReport:
    path: Path
    kind: Kind
    source: str
    datum: str
    rows: int
    ids: list[int]


@dataclass(frozen=True)
class _Reference:
    communities: dict[str, tuple[int, BaseGeometry]]
    grids: dict[str, int]
    """grid code → its community's id"""
    grid_ids: dict[str, int]
    councils: dict[str, tuple[int, int]]
    """council ext_id → (id, community id)"""
    facilities: set[int]
    item_ids: set[str]
    council_ids: set[str]


def _reference(session: Session) -> _Reference:
    communities = {
        str(code): (int(i), shapely.from_wkb(bytes(geom)))
        for i, code, geom in session.execute(
            text(
                "SELECT id, code, ST_AsBinary(geom) FROM admin_area"
                " WHERE level = 'community' AND valid_to IS NULL"
            )
        )
    }
    grids = session.execute(
        text("SELECT code, id, community_id FROM grid WHERE valid_to IS NULL")
    ).all()
    councils = session.execute(
        text("SELECT ext_id, id, community_id FROM council WHERE ext_id IS NOT NULL")
    ).all()
    return _Reference(
        communities=communities,
        grids={str(code): int(c) for code, _, c in grids},
        grid_ids={str(code): int(i) for code, i, _ in grids},
        councils={str(e): (int(i), int(c)) for e, i, c in councils},
        facilities={int(i) for i in session.execute(text("SELECT id FROM facility")).scalars()},
        item_ids=set(
            session.execute(
                text("SELECT ext_id FROM participation_item WHERE ext_id IS NOT NULL")
            ).scalars()
        ),
        council_ids=set(
            session.execute(text("SELECT ext_id FROM council WHERE ext_id IS NOT NULL")).scalars()
        ),
    )


# ---- reading -----------------------------------------------------------------------------


def _check_size(path: Path, max_bytes: int) -> None:
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file", zh=f"{path}：文件不存在")
    size = path.stat().st_size
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"{path.name} is {size / 1e6:.1f} MB, over the import limit of "
            f"{max_bytes / 1e6:.1f} MB (GRIDMAP_MAX_IMPORT_BYTES)",
            zh=f"{path.name} 大小 {size / 1e6:.1f} MB，超过导入上限 {max_bytes / 1e6:.1f} MB",
        )


def _read_csv(path: Path) -> pd.DataFrame:
    for encoding in TEXT_ENCODINGS:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as exc:
            raise ImportFileError(
                f"{path.name}: the CSV file is empty", zh=f"{path.name}：CSV 文件为空"
            ) from exc
        except (pd.errors.ParserError, ValueError, OSError) as exc:
            raise ImportFileError(
                f"{path.name}: cannot be read as CSV: {exc}",
                zh=f"{path.name}：无法作为 CSV 读取：{exc}",
            ) from exc
    raise ImportFileError(
        f"{path.name}: neither UTF-8 nor GB18030 text; save it again as CSV (UTF-8)",
        zh=f"{path.name}：既不是 UTF-8 也不是 GB18030 文本；请另存为 CSV（UTF-8）",
    )


def _read_layer(path: Path, fmt: str, layer: str | None) -> pd.DataFrame:
    failures = (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
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
            frame = pyogrio.read_dataframe(path, layer=layer or layers[0])
    except failures as exc:
        message = str(exc).replace(str(path), path.name)
        raise ImportFileError(
            f"{path.name}: cannot be read as {fmt} ({message})",
            zh=f"{path.name}：无法作为 {fmt} 读取（{message}）",
        ) from exc
    out = pd.DataFrame(frame.drop(columns="geometry"))
    geoms = np.asarray(frame.geometry.array, dtype=object)
    lon, lat, problems = [], [], []
    for g in geoms:
        point = g is not None and not g.is_empty and g.geom_type == "Point"
        lon.append(repr(g.x) if point else "")
        lat.append(repr(g.y) if point else "")
        wrong = g is not None and not g.is_empty and not point
        problems.append(f"a {g.geom_type}, not a point" if wrong else "")
    out["lon"], out["lat"], out["_geometry_problem"] = lon, lat, problems
    return out


def read_rows(path: Path, layer: str | None = None) -> tuple[pd.DataFrame, str]:
    """The file's rows as text cells (lower-case column names) and its format's name."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImportFileError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}; use "
            f"{', '.join(sorted(FORMATS))}",
            zh=f"{path.name}：不支持的文件类型 {path.suffix or '(无)'}；请使用 "
            f"{'、'.join(sorted(FORMATS))}",
        )
    frame = _read_csv(path) if fmt == "CSV" else _read_layer(path, fmt, layer)
    if len(frame) == 0:
        raise ImportFileError(f"{path.name}: contains no rows", zh=f"{path.name}：没有可导入的行")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame, fmt


# ---- cells -------------------------------------------------------------------------------


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()[:10]
    return str(value).strip()


def _date(value: str, column: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10].replace("/", "-"))
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a date (YYYY-MM-DD)") from None


def _number(value: str, column: str) -> float | None:
    if not value:
        return None
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a number") from None
    return number


def _amount(value: str, column: str, zh: str) -> float | None:
    return items.check_amount(_number(value, column), column, zh)


def _int(value: str, column: str) -> int | None:
    number = _number(value, column)
    if number is None:
        return None
    if not number.is_integer():
        raise ValueError(f"{column} {value!r} is not a whole number")
    return int(number)


def _collect(problems: list[str], check: Callable[[], Any]) -> Any:
    """``check()``, or None with its message added to ``problems``."""
    try:
        return check()
    except GridmapError as exc:
        problems.append(str(exc))
    except ValueError as exc:
        problems.append(str(exc))
    return None


# ---- the place and its datum ---------------------------------------------------------------


def _place(
    lon_text: str, lat_text: str, datum: Datum, problems: list[str]
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(WGS84 place, the place as given), or (None, None) without one."""
    if not lon_text and not lat_text:
        return None, None
    try:
        lon, lat = float(lon_text), float(lat_text)
    except ValueError:
        problems.append(f"lon/lat ({lon_text!r}, {lat_text!r}) are not numbers")
        return None, None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems.append(f"lon/lat ({lon:g}, {lat:g}) are not degrees; were they swapped?")
        return None, None
    x, y = to_wgs84([lon], [lat], datum)
    return (float(x[0]), float(y[0])), (lon, lat)


def _hint(given: tuple[float, float], datum: Datum, area: BaseGeometry) -> str | None:
    """The datum the point fits its community in, when the one named does not."""
    for alt in (GCJ02, BD09, WGS84):
        same = alt.kind is datum.kind or (
            alt is WGS84 and datum.kind in (DatumKind.WGS84, DatumKind.CGCS2000)
        )
        if same:
            continue
        x, y = to_wgs84([given[0]], [given[1]], alt)
        if area.covers(shapely.Point(float(x[0]), float(y[0]))):
            return f"looks like {alt.display_name} coordinates: re-run with --datum {alt.label}"
    return None


# ---- rows --------------------------------------------------------------------------------


def _item_row(
    row: dict[str, Any],
    ref: _Reference,
    principal: Principal,
    datum: Datum,
    problems: list[str],
) -> dict[str, Any] | None:
    ext_id = _cell(row, "id")
    community_code = _cell(row, "community")
    if community_code not in ref.communities:
        problems.append(f"unknown community code {community_code!r} (12 digits, current)")
        community = None
    else:
        community = ref.communities[community_code]
        if not items.may_write(principal, community_code):
            problems.append(f"you do not answer for community {community_code}")
    grid_code = _cell(row, "grid") or None
    grid = None
    if grid_code is not None:
        if grid_code not in ref.grids:
            problems.append(f"unknown grid code {grid_code!r} (15 digits, current)")
        elif community is not None and ref.grids[grid_code] != community[0]:
            problems.append(f"grid {grid_code} does not lie in community {community_code}")
        else:
            grid = ref.grid_ids[grid_code]
    kind = _collect(problems, lambda: kinds.check_kind(_cell(row, "kind")))
    status = _collect(problems, lambda: kinds.check_status(_cell(row, "status") or "proposed"))
    dates = {c: _collect(problems, functools.partial(_date, _cell(row, c), c)) for c in ITEM_DATES}
    if status is not None and not any(p.startswith(tuple(ITEM_DATES)) for p in problems):
        _collect(problems, lambda: kinds.check_dates(status, dates))
    title = _collect(
        problems, lambda: items.clean_text(_cell(row, "title"), "title", "标题", items.TITLE_MAX)
    )
    description = _collect(
        problems,
        lambda: items.clean_text(
            _cell(row, "description"),
            "description",
            "说明",
            items.DESCRIPTION_MAX,
            required=False,
        ),
    )
    amounts = {
        column: _collect(problems, functools.partial(_amount, _cell(row, column), column, zh))
        for column, zh in (("budget_cny", "预算"), ("spent_cny", "已支出"))
    }
    facility = _collect(problems, lambda: _int(_cell(row, "facility_id"), "facility_id"))
    if facility is not None and facility not in ref.facilities:
        problems.append(f"no facility has id {facility}")
    council_ext = _cell(row, "council") or None
    council = None
    if council_ext is not None:
        if council_ext not in ref.councils:
            problems.append(f"no council has id {council_ext!r} (import the councils first)")
        elif community is not None and ref.councils[council_ext][1] != community[0]:
            problems.append(f"council {council_ext} is not community {community_code}'s")
        else:
            council = ref.councils[council_ext][0]
    if _cell(row, "_geometry_problem"):
        problems.append(_cell(row, "_geometry_problem"))
    place, given = _place(_cell(row, "lon"), _cell(row, "lat"), datum, problems)
    if place is not None and given is not None and community is not None:
        area = community[1].buffer(PLACE_TOLERANCE_DEG)
        if not area.covers(shapely.Point(*place)):
            problems.append(f"the place lies outside community {community_code}")
            hint = _hint(given, datum, area)
            if hint:
                problems.append(hint)
    if problems or community is None:
        return None
    return {
        "ext_id": ext_id or None,
        "kind": kind,
        "title": title,
        "description": description,
        "community_id": community[0],
        "grid_id": grid,
        "status": status,
        **dates,
        **amounts,
        "facility_id": facility,
        "place": None if place is None else f"SRID=4326;POINT({place[0]!r} {place[1]!r})",
        "council_id": council,
    }


def _council_row(
    row: dict[str, Any], ref: _Reference, principal: Principal, problems: list[str]
) -> dict[str, Any] | None:
    community_code = _cell(row, "community")
    if community_code not in ref.communities:
        problems.append(f"unknown community code {community_code!r} (12 digits, current)")
        return None
    if not items.may_write(principal, community_code):
        problems.append(f"you do not answer for community {community_code}")
    name = _collect(
        problems,
        lambda: items.clean_text(_cell(row, "name"), "name", "名称", councils.COUNCIL_NAME_MAX),
    )
    composition = _collect(
        problems,
        lambda: items.clean_text(
            _cell(row, "composition"),
            "composition",
            "成员构成",
            councils.COMPOSITION_MAX,
            required=False,
        ),
    )
    members = _collect(problems, lambda: _int(_cell(row, "members"), "members"))
    if members is not None and not 1 <= members <= councils.MEMBERS_MAX:
        problems.append(f"members must lie between 1 and {councils.MEMBERS_MAX}")
    established = _collect(problems, lambda: _date(_cell(row, "established_on"), "established_on"))
    if problems:
        return None
    return {
        "ext_id": _cell(row, "id") or None,
        "community_id": ref.communities[community_code][0],
        "name": name,
        "members": members,
        "composition": composition,
        "established_on": established,
    }


def import_participation(
    session: Session,
    path: Path | str,
    principal: Principal,
    *,
    kind: Kind = "items",
    datum: Datum = WGS84,
    layer: str | None = None,
    max_bytes: int | None = None,
) -> ImportReport:
    """Check every row of ``path`` and store the councils or items, or store nothing
    (``ImportRejectedError`` listing every bad row by number)."""
    path = Path(path)
    _check_size(path, ImportSettings().max_import_bytes if max_bytes is None else max_bytes)
    frame, fmt = read_rows(path, layer)
    if kind == "items" and not {"kind", "title", "community"} <= set(frame.columns):
        missing = sorted({"kind", "title", "community"} - set(frame.columns))
        raise ImportFileError(
            f"{path.name}: columns missing: {', '.join(missing)}",
            zh=f"{path.name}：缺少列：{'、'.join(missing)}",
        )
    if kind == "councils" and not {"community", "name"} <= set(frame.columns):
        raise ImportFileError(
            f"{path.name}: a council file needs the columns community and name",
            zh=f"{path.name}：议事会文件须有 community 和 name 两列",
        )
    ref = _reference(session)
    taken = ref.item_ids if kind == "items" else ref.council_ids
    seen: dict[str, int] = {}
    rejected: list[RejectedRow] = []
    rows: list[dict[str, Any]] = []
    for i, row in enumerate(frame.to_dict("records")):
        problems: list[str] = []
        ext_id = _cell(row, "id")
        if ext_id:
            if ext_id in seen:
                problems.append(f"id {ext_id!r} repeats row {seen[ext_id]}")
            elif ext_id in taken:
                problems.append(f"id {ext_id!r} is already stored")
            seen.setdefault(ext_id, i + 1)
        if kind == "items":
            checked = _item_row(row, ref, principal, datum, problems)
        else:
            checked = _council_row(row, ref, principal, problems)
        if problems or checked is None:
            rejected.append(
                RejectedRow(row=i + 1, reason="; ".join(problems), ident=ext_id or None)
            )
        else:
            rows.append(checked)
    if rejected:
        raise ImportRejectedError(
            layer="participation" if kind == "items" else "council",
            rejected=rejected,
            total_rows=len(frame),
        )
    if kind == "items":
        ids = items.insert_rows(session, rows)
    else:
        councils.insert_councils(session, rows)
        ids = []
    return ImportReport(path, kind, fmt, datum.label, len(frame), ids)
