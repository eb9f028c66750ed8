"""Every row of a layer checked against the file and the database; pure, no database.

`validate_layer` returns either the records to write or every problem found,
each with its 1-based row number and the row's code or ext_id.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from gis.errors import RejectedRow
from gis.geo.datum import Datum
from gis.imports._cells import parse_cell
from gis.imports._geometry import BOUNDARY_TOLERANCE_M, check_geometries, degrees
from gis.imports._history import incident_history
from gis.imports._read import SourceTable
from gis.imports._reference import Area, ReferenceData
from gis.imports._spec import SPECS
from gis.imports._tiling import TILED, check_overlaps, coverage_notes
from gis.incidents.catalogue import find, top_level
from gis.incidents.workflow import State, Step
from gis.localtime import CITY_TZ
from gis.progress import Advance, ignore


@dataclass
class ValidatedLayer:
    """Rows ready to write (all of them), or the problems that stop the import."""

    records: list[dict[str, Any]]
    rejected: list[RejectedRow]
    notes: list[str] = field(default_factory=list)


def validate_layer(
    layer: str,
    table: SourceTable,
    datum: Datum,
    ref: ReferenceData,
    *,
    column_map: dict[str, str],
    advance: Advance = ignore,
    now: dt.datetime | None = None,
) -> ValidatedLayer:
    """Check every row of ``table`` for ``layer``; return records or all problems found."""
    spec = SPECS[layer]
    now = now or dt.datetime.now(tz=CITY_TZ)
    n = table.n_rows
    geo = check_geometries(table, spec, datum, ref)
    problems = geo.problems
    advance(n // 2)

    values: dict[str, list[Any]] = {}
    for col in spec.columns:
        source_col = column_map.get(col.name)
        raw = table.attributes[source_col].tolist() if source_col else [None] * n
        parsed: list[Any] = []
        for i, cell in enumerate(raw):
            value, problem = parse_cell(col, cell, now)
            if problem:
                problems[i].append(problem)
            parsed.append(value)
        values[col.name] = parsed
    advance(n // 4)

    idents: list[str | None] = list(values[spec.ident])
    extra = _LAYER_CHECKS[layer](values, geo.wgs84, ref, problems)
    if layer in TILED:
        check_overlaps(idents, geo.wgs84, ref.peers, TILED[layer][0], problems)
    _check_unique(idents, spec.ident, ref.taken, problems)
    advance(n - n // 2 - n // 4)

    # One entry per row (as ImportRejectedError counts rows), all its problems in it.
    rejected = [
        RejectedRow(row=i + 1, reason="; ".join(problems[i]), ident=idents[i])
        for i in range(n)
        if problems[i]
    ]
    if rejected:
        return ValidatedLayer(records=[], rejected=rejected)
    records = [
        {**{name: vals[i] for name, vals in values.items()}, **{k: v[i] for k, v in extra.items()}}
        for i in range(n)
    ]
    notes = _notes(layer, records) + coverage_notes(layer, records, ref)
    return ValidatedLayer(records=records, rejected=[], notes=notes)


def _check_unique(
    idents: list[str | None], what: str, taken: dict[str, str], problems: list[list[str]]
) -> None:
    first_row: dict[str, int] = {}
    for i, ident in enumerate(idents):
        if ident is None:
            continue
        if ident in first_row:
            problems[i].append(f"duplicate {what} {ident} (also in row {first_row[ident]})")
        else:
            first_row[ident] = i + 1
        if ident in taken:
            problems[i].append(f"duplicate {what} {ident}: {taken[ident]}")


_CODE_LAYOUT = {n: re.compile(rf"^[0-9]{{{n}}}$") for n in (6, 9, 12, 15)}


def _check_within_parents(
    geoms: NDArray[np.object_], parents: Sequence[Area | None], problems: list[list[str]]
) -> None:
    """Refuse areas that stick out of their parent by more than `BOUNDARY_TOLERANCE_M`.

    Each parent is grown and prepared once, however many children it has.
    """
    tolerance = degrees(BOUNDARY_TOLERANCE_M)
    grown: dict[int, BaseGeometry] = {}
    for i, (geom, parent) in enumerate(zip(geoms, parents, strict=True)):
        if geom is None or parent is None or parent.geom is None:
            continue
        if parent.id not in grown:
            grown[parent.id] = parent.geom.buffer(tolerance)
            shapely.prepare(grown[parent.id])
        if not grown[parent.id].covers(geom):
            problems[i].append(f"extends beyond its {parent.level} {parent.code}")


def _check_districts(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    for i, code in enumerate(values["code"]):
        if code is not None and not _CODE_LAYOUT[6].match(code):
            problems[i].append(
                f"code {code!r} is not a 6-digit district code (GB/T 2260, e.g. 370705)"
            )
    return {"parent_id": [None] * len(geoms), "geom": list(geoms)}


def _check_subdistricts(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    parent_codes: list[str | None] = []
    parents: list[Area | None] = []
    for i, (code, given) in enumerate(zip(values["code"], values["parent_code"], strict=True)):
        parent_codes.append(None)
        parents.append(None)
        if code is not None and not _CODE_LAYOUT[9].match(code):
            problems[i].append(
                f"code {code!r} is not a 9-digit subdistrict code "
                "(6-digit district + 3-digit subdistrict)"
            )
            code = None
        parent = given if given is not None else (code[:6] if code is not None else None)
        if parent is None:
            continue
        if not _CODE_LAYOUT[6].match(parent):
            problems[i].append(f"parent_code {parent!r} is not a 6-digit district code")
            continue
        parent_codes[i] = parent
        if code is not None and not code.startswith(parent):
            problems[i].append(f"code {code} does not extend its parent code {parent}")
        area = ref.parents.get(parent)
        if area is None or area.level != "district":
            problems[i].append(
                f"unknown district {parent}: no current district with that code in the "
                f"database; import it first with `gridmap import districts FILE --datum ...`"
            )
        else:
            parents[i] = area
    _check_within_parents(geoms, parents, problems)
    return {
        "parent_code": parent_codes,
        "parent_id": [p.id if p is not None else None for p in parents],
        "geom": list(geoms),
    }


def _check_communities(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    parents: list[Area | None] = []
    for i, (code, parent) in enumerate(zip(values["code"], values["parent_code"], strict=True)):
        parents.append(None)
        if code is not None and not _CODE_LAYOUT[12].match(code):
            problems[i].append(
                f"code {code!r} is not a 12-digit community code "
                "(6-digit district + 3-digit subdistrict + 3-digit community)"
            )
            code = None
        if parent is None:
            continue
        if not re.fullmatch(r"[0-9]{6}|[0-9]{9}", parent):
            problems[i].append(
                f"parent_code {parent!r} is neither a 9-digit subdistrict nor a 6-digit "
                "district code"
            )
            continue
        if code is not None and not code.startswith(parent):
            problems[i].append(f"code {code} does not extend its parent code {parent}")
        area = ref.parents.get(parent)
        level = "subdistrict" if len(parent) == 9 else "district"
        if area is None or area.level != level:
            problems[i].append(
                f"unknown parent code {parent}: no current {level} with that code in the database"
            )
        else:
            parents[i] = area
    _check_within_parents(geoms, parents, problems)
    return {"parent_id": [p.id if p is not None else None for p in parents], "geom": list(geoms)}


def _check_grids(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    by_code = {c.code: c for c in ref.communities}
    communities: list[Area | None] = []
    for i, code in enumerate(values["code"]):
        communities.append(None)
        if code is None:
            continue
        if not _CODE_LAYOUT[15].match(code):
            problems[i].append(
                f"code {code!r} is not a 15-digit grid code (12-digit community code + 3 digits)"
            )
            continue
        community = by_code.get(code[:12])
        if community is None:
            problems[i].append(
                f"unknown community {code[:12]} (the first 12 digits of the grid code): "
                "import the community first"
            )
            continue
        communities[i] = community
    _check_within_parents(geoms, communities, problems)
    return {
        "community_id": [c.id if c is not None else None for c in communities],
        "geom": list(geoms),
    }


def _check_buildings(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    present = np.array([g is not None for g in geoms], dtype=bool)
    locations = np.full(len(geoms), None, dtype=object)
    if present.any():
        locations[present] = shapely.point_on_surface(geoms[present])
    hit = _assign(ref.grids, locations)
    grid_ids: list[int | None] = []
    footprints: list[BaseGeometry | None] = []
    for i, geom in enumerate(geoms):
        footprints.append(geom if geom is not None and geom.geom_type != "Point" else None)
        if geom is None:
            grid_ids.append(None)
            continue
        if hit[i] < 0:
            problems[i].append(
                "not inside any grid (a building must lie in a current grid: "
                "import or fix the grids first)"
            )
            grid_ids.append(None)
        else:
            grid_ids.append(ref.grids[hit[i]].id)
    return {"grid_id": grid_ids, "location": list(locations), "footprint": footprints}


def _check_facilities(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    known = ", ".join(sorted(ref.facility_types)) or "none loaded"
    for i, code in enumerate(values["type"]):
        if code is not None and code not in ref.facility_types:
            problems[i].append(f"unknown facility type {code!r} (known: {known})")
    hit = _assign(ref.communities, geoms)
    return {
        "community_id": [ref.communities[h].id if h >= 0 else None for h in hit],
        "geom": list(geoms),
    }


def _check_incidents(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    # Hotline and city-platform exports name categories in Chinese: store the code.
    # Grids are assigned by gis.incidents.ingest, in SQL, as live intake does.
    codes: list[Any] = []
    for i, given in enumerate(values["category"]):
        found = find(given) if given is not None else None
        codes.append(found.code if found is not None else given)
        if given is not None and found is None:
            top = ", ".join(c.code for c in top_level())
            problems[i].append(
                f"unknown incident category {given!r} (codes such as {top}, or their Chinese names)"
            )
    now = dt.datetime.now(tz=CITY_TZ)
    statuses: list[State | None] = []
    steps: list[tuple[Step, ...]] = []
    for i in range(len(geoms)):
        status, history = incident_history({k: v[i] for k, v in values.items()}, now)
        statuses.append(status)
        steps.append(history.steps)
        problems[i].extend(history.problems)
    return {
        "category": codes,
        "status": statuses,
        "steps": steps,
        "handler_staff_id": _handlers(values["handler"], ref.staff, problems),
        "geom": list(geoms),
    }


def _assign(areas: Sequence[Area], points: NDArray[np.object_]) -> NDArray[np.int64]:
    """Index into ``areas`` of the area covering each point (-1 if none; lowest code wins)."""
    result = np.full(len(points), -1, dtype=np.int64)
    present = np.flatnonzero([p is not None for p in points])
    if not areas or present.size == 0:
        return result
    tree = STRtree([a.geom for a in areas])
    hits = tree.query(points[present], predicate="covered_by")
    best = np.full(present.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, hits[0], hits[1])
    found = best != np.iinfo(np.int64).max
    result[present[found]] = best[found]
    return result


def _handlers(
    given: list[Any], staff: dict[int, str], problems: list[list[str]]
) -> list[int | None]:
    """Staff ids of the ``handler`` cells: an id, or a name only one staff member has."""
    by_name: dict[str, list[int]] = {}
    for sid, name in staff.items():
        by_name.setdefault(name, []).append(sid)
    ids: list[int | None] = []
    for i, value in enumerate(given):
        ids.append(None)
        if value is None:
            continue
        if re.fullmatch(r"[0-9]+", value) and int(value) in staff:
            ids[i] = int(value)
            continue
        named = sorted(by_name.get(value, []))
        if len(named) == 1:
            ids[i] = named[0]
        elif named:
            listed = ", ".join(map(str, named))
            problems[i].append(
                f"handler {value!r} names {len(named)} staff members (ids {listed}): give the id"
            )
        else:
            problems[i].append(f"unknown handler {value!r}: no staff member has this id or name")
    return ids


_LAYER_CHECKS: dict[
    str,
    Callable[
        [dict[str, list[Any]], NDArray[np.object_], ReferenceData, list[list[str]]],
        dict[str, list[Any]],
    ],
] = {
    "districts": _check_districts,
    "subdistricts": _check_subdistricts,
    "communities": _check_communities,
    "grids": _check_grids,
    "buildings": _check_buildings,
    "facilities": _check_facilities,
    "incidents": _check_incidents,
}


def _notes(layer: str, records: list[dict[str, Any]]) -> list[str]:
    """What the user should know about an import that went through."""
    if layer == "facilities":
        orphans = sum(r["community_id"] is None for r in records)
        if orphans:
            return [
                f"{orphans} facilities lie in the district but in no community; stored without one"
            ]
    if layer == "grids" and any(r["households"] for r in records):
        return [
            "grid households from the file stand until buildings are imported; from then on "
            "the database keeps them equal to the sum of the grid's buildings"
        ]
    return []
