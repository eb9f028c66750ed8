"""Tiling: overlaps refused (1 m² allowance), coverage of each parent reported."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Polygon, box
from sqlalchemy.orm import Session

from gis.geo.datum import WGS84
from gis.imports._reference import Area, ReferenceData
from gis.imports._tiling import coverage_notes
from gis.imports.importer import import_file
from tests.gis.imports.import_district import (
    C1,
    C2,
    DISTRICT,
    G2,
    count_rows,
    deployment_files,
    insert_area,
    reasons,
    rejected,
    square,
    write_geojson,
)

_GEOD = Geod(ellps="GRS80")


def _geodesic_m2(geom: shapely.Geometry) -> float:
    return abs(_GEOD.geometry_area_perimeter(geom)[0])


def _overlap_m2(reason: str) -> float:
    match = re.search(r"by ([\d,.]+) m²", reason)
    assert match, reason
    return float(match.group(1).replace(",", ""))


def test_overlapping_grids_in_one_file_are_refused_naming_each_other(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    a = box(119.18, 36.70, 119.20, 36.75)
    b = box(119.199, 36.70, 119.22, 36.75)  # 0.001° (~89 m) over a
    c = box(119.22, 36.70, 119.25, 36.75)  # shares an edge with b: fine
    path = write_geojson(
        tmp_path / "g.geojson",
        [
            ({"code": "370705001002002", "name": "a"}, a),
            ({"code": "370705001002003", "name": "b"}, b),
            ({"code": "370705001002004", "name": "c"}, c),
        ],
    )
    err = rejected(db, "grids", path)
    assert [r.row for r in err.rejected] == [1, 2]
    assert "overlaps row 2 (370705001002003) by " in reasons(err, 1)
    assert "overlaps row 1 (370705001002002) by " in reasons(err, 2)
    expected = _geodesic_m2(a.intersection(b))
    assert expected == pytest.approx(495_000, rel=0.01)
    assert _overlap_m2(reasons(err, 1)) == pytest.approx(expected, rel=0.002)
    assert count_rows(db, "grid") == 2


def test_an_area_overlapping_a_stored_one_is_refused(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    low = box(119.18, 36.69, 119.20, 36.75)  # 0.01° down into grid 370705001002001
    err = rejected(
        db,
        "grids",
        write_geojson(tmp_path / "g.geojson", [({"code": "370705001002002", "name": "x"}, low)]),
    )
    reason = reasons(err, 1)
    assert reason.startswith("overlaps grid 370705001002001 already in the database by ")
    assert _overlap_m2(reason) == pytest.approx(_geodesic_m2(low.intersection(G2)), rel=0.002)

    # communities too: this one reaches 0.01° into community 370705001001
    community = box(119.11, 36.74, 119.12, 36.76)
    path = write_geojson(
        tmp_path / "c.geojson",
        [
            (
                {
                    "code": "370705001003",
                    "name": "x",
                    "parent_code": "370705001",
                    "households": 1,
                    "population": 1,
                },
                community,
            )
        ],
    )
    reason = reasons(rejected(db, "communities", path), 1)
    assert reason.startswith("overlaps community 370705001001 already in the database by ")
    assert _overlap_m2(reason) == pytest.approx(_geodesic_m2(community.intersection(C1)), rel=0.002)


def test_overlapping_subdistricts_are_refused(db: Session, tmp_path: Path) -> None:
    insert_area(db, "370705", "district", None, DISTRICT)
    path = write_geojson(
        tmp_path / "s.geojson",
        [
            ({"code": "370705001", "name": "a"}, box(119.10, 36.62, 119.18, 36.80)),
            ({"code": "370705002", "name": "b"}, box(119.17, 36.62, 119.25, 36.80)),
        ],
    )
    err = rejected(db, "subdistricts", path)
    assert "overlaps row 2 (370705002) by " in reasons(err, 1)
    assert "overlaps row 1 (370705001) by " in reasons(err, 2)


def test_overlap_tolerance_is_one_square_metre(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    def grid_dipping(depth_deg: float) -> Polygon:
        # The gap above grid 370705001002001, with a 1.8 m wide spike down into it.
        return Polygon(
            [
                (119.175, 36.70),
                (119.20, 36.70),
                (119.20001, 36.70 - depth_deg),
                (119.20002, 36.70),
                (119.25, 36.70),
                (119.25, 36.75),
                (119.175, 36.75),
            ]
        )

    deep = grid_dipping(0.00005)  # ~5.6 m deep: ~5 m² of overlap
    err = rejected(
        db,
        "grids",
        write_geojson(
            tmp_path / "deep.geojson", [({"code": "370705001002002", "name": "x"}, deep)]
        ),
    )
    expected = _geodesic_m2(deep.intersection(G2))
    assert 4 < expected < 6
    assert _overlap_m2(reasons(err, 1)) == pytest.approx(expected, abs=0.1)

    shallow = grid_dipping(0.000005)  # ~0.5 m²: digitising noise, accepted
    assert _geodesic_m2(shallow.intersection(G2)) < 1
    path = write_geojson(
        tmp_path / "shallow.geojson", [({"code": "370705001002002", "name": "x"}, shallow)]
    )
    assert import_file(db, "grids", path, WGS84).rows_imported == 1


def test_edges_shared_at_a_t_junction_are_not_an_overlap(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    # The gap's west edge (lat 36.70-36.75) lies on grid 370705001001001's east
    # edge (lat 36.62-36.75), and its south edge has a vertex in the middle of
    # grid 370705001002001's north edge. Straight in lon/lat, these edges would
    # bend apart if projected before intersecting, and "overlap" by slivers.
    gap = Polygon(
        [(119.175, 36.70), (119.21, 36.70), (119.25, 36.70), (119.25, 36.75), (119.175, 36.75)]
    )
    path = write_geojson(tmp_path / "g.geojson", [({"code": "370705001002002", "name": "x"}, gap)])
    report = import_file(db, "grids", path, WGS84)
    assert report.rows_imported == 1
    assert "grids now cover 100.0% of community 370705001002 (2 grids, 1 from this file)" in (
        report.notes
    )


def test_one_overlap_among_1000_grids_is_found_quickly(db: Session, tmp_path: Path) -> None:
    files = deployment_files(tmp_path)
    for layer in ("districts", "subdistricts", "communities"):
        import_file(db, layer, files[layer], WGS84)
    doc = json.loads(files["grids"].read_text(encoding="utf-8"))
    ring = doc["features"][6]["geometry"]["coordinates"][0]  # grid 007: column 1, row 1
    for point in ring:
        point[0] -= 0.0001  # ~9 m west, into grid 006
    files["grids"].write_text(json.dumps(doc), encoding="utf-8")

    started = time.perf_counter()
    err = rejected(db, "grids", files["grids"])
    seconds = time.perf_counter() - started
    assert [(r.row, r.ident) for r in err.rejected] == [
        (6, "370705001001006"),
        (7, "370705001001007"),
    ]
    assert reasons(err, 6).startswith("overlaps row 7 (370705001001007) by ")
    assert reasons(err, 7).startswith("overlaps row 6 (370705001001006) by ")
    assert seconds < 10, f"checking 1,000 grids took {seconds:.1f} s"


def _percent_in(note: str) -> float:
    match = re.search(r"cover ([\d.]+)%", note)
    assert match, note
    return float(match.group(1))


def test_the_summary_says_how_much_of_the_parent_is_covered(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    part = box(119.175, 36.70, 119.25, 36.73)
    report = import_file(
        db,
        "grids",
        write_geojson(tmp_path / "a.geojson", [({"code": "370705001002002", "name": "a"}, part)]),
        WGS84,
    )
    (note,) = [n for n in report.notes if "cover" in n]
    uncovered = _geodesic_m2(box(119.175, 36.73, 119.25, 36.75))
    share = 100 * (1 - uncovered / _geodesic_m2(C2))
    assert (
        note.startswith("grids now cover ") and "of community 370705001002 (2 grids, 1 from" in note
    )
    assert _percent_in(note) == pytest.approx(share, abs=0.11)
    assert _percent_in(note) < 100
    assert re.search(r"; ([\d,]+) m² not covered\)$", note)
    assert float(re.findall(r"([\d,]+) m² not", note)[0].replace(",", "")) == pytest.approx(
        uncovered, rel=0.002
    )

    rest = box(119.175, 36.73, 119.25, 36.75)
    report = import_file(
        db,
        "grids",
        write_geojson(tmp_path / "b.geojson", [({"code": "370705001002003", "name": "b"}, rest)]),
        WGS84,
    )
    assert "grids now cover 100.0% of community 370705001002 (3 grids, 1 from this file)" in (
        report.notes
    )

    # A community directly under the district (no subdistrict level): its parent is the district.
    path = write_geojson(
        tmp_path / "c.geojson",
        [
            (
                {
                    "code": "370705002001",
                    "name": "直属",
                    "parent_code": "370705",
                    "households": 1,
                    "population": 1,
                },
                square(119.20, 36.76),
            )
        ],
    )
    (note,) = import_file(db, "communities", path, WGS84).notes
    share = 100 * _geodesic_m2(square(119.20, 36.76)) / _geodesic_m2(DISTRICT)
    assert (
        note.startswith("communities now cover ")
        and "of district 370705 (1 community, 1 from" in note
    )
    assert _percent_in(note) == pytest.approx(share, abs=0.11)


def test_coverage_of_many_parents_is_summarised_naming_the_least_covered() -> None:
    # Pure validation, no database: 12 communities, two of them only partly gridded.
    communities = [
        Area(
            id=k, code=f"370705001{k:03d}", level="community", geom=square(119.10 + k / 100, 36.63)
        )
        for k in range(1, 13)
    ]
    ref = ReferenceData(district_codes=["370705"], district=DISTRICT, communities=communities)
    records = []
    for c in communities:
        assert c.geom is not None
        x0, y0, x1, y1 = c.geom.bounds
        share = {3: 0.5, 7: 0.25}.get(c.id, 1.0)
        records.append({"community_id": c.id, "geom": box(x0, y0, x1, y0 + (y1 - y0) * share)})
    (note,) = coverage_notes("grids", records, ref)
    assert note.endswith(
        "of the 12 communities this file adds to (10 fully covered); "
        "least covered: 370705001007 25.0%, 370705001003 50.0%"
    )
    assert _percent_in(note) == pytest.approx(100 * (12 - 0.5 - 0.75) / 12, abs=0.11)
