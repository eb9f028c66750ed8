"""`gridmap network import`: line layers noded with their attributes, OSM extracts by their
tags, every bad row reported with its row number, nothing written unless all is well."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyrosm
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import (
    ConflictError,
    DatumMismatchError,
    ImportFileError,
    ImportRejectedError,
    InvalidParameterError,
)
from gis.geo.datum import GCJ02, WGS84, from_wgs84, parse_datum
from gis.lang import Lang
from gis.network.importer import import_network
from gis.network.store import network_summary

LON, LAT = 119.15, 36.70
D = 0.002  # ~180 m east-west, ~220 m north-south
DISTRICT = Polygon([(119.10, 36.65), (119.20, 36.65), (119.20, 36.75), (119.10, 36.75)])


def _district(db: Session) -> None:
    db.execute(
        text(
            "INSERT INTO admin_area (code, name, level, geom, households, population,"
            " floating_population) VALUES ('370705', '奎文区', 'district',"
            " ST_Multi(ST_GeomFromText(:w, 4326)), 0, 0, 0)"
        ),
        {"w": DISTRICT.wkt},
    )


def _streets() -> gpd.GeoDataFrame:
    """Two whole streets crossing in the middle (an X: noded into four edges), a bridge
    passing over the east-west one (not joined there; its ends split the north-south one),
    a one-way footway, a private lane, and a river barrier."""
    return gpd.GeoDataFrame(
        {
            "name": ["胜利街", "新华路", "跨河桥", "单行道", "私家路", "白浪河"],
            "oneway": [None, "no", None, "yes", None, None],
            "access": [None, None, None, None, "private", None],
            "bridge": [None, None, "yes", None, None, None],
            "barrier": [None, None, None, None, None, "river"],
        },
        geometry=[
            LineString([(LON - D, LAT), (LON + D, LAT)]),
            LineString([(LON, LAT - D), (LON, LAT + D)]),
            LineString([(LON, LAT - D / 2), (LON + D / 2, LAT + D / 2)]),
            LineString([(LON + D, LAT + D), (LON + D, LAT)]),
            LineString([(LON - D, LAT + D), (LON, LAT + D)]),
            LineString([(LON - 2 * D, LAT + D / 4), (LON + 2 * D, LAT + D / 4)]),
        ],
        crs=4326,
    )


def _moved(frame: gpd.GeoDataFrame, dx: float) -> gpd.GeoDataFrame:
    moved = frame.copy()
    moved.geometry = frame.translate(xoff=dx)
    return moved


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_file(path, engine="pyogrio")
    return path


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_a_line_layer_is_noded_with_its_attributes(
    db: Session, tmp_path: Path, suffix: str
) -> None:
    report = import_network(db, _write(_streets(), tmp_path / f"streets{suffix}"))
    summary = report.summary
    # X: 4 edges; the bridge's south end splits the north-south street once more (5);
    # the bridge (1); the one-way footway meets the east-west street at its end (1).
    assert (summary.edges, summary.barriers, summary.one_way) == (7, 1, 1)
    assert summary.components == 1 and report.notes == [
        "left out 1 rows closed to walkers (access=no/private)"
    ]
    rows = db.execute(
        text(
            "SELECT kind, name, forward, backward, ST_X(ST_StartPoint(geom)) AS x,"
            " ST_Y(ST_StartPoint(geom)) AS y"
            " FROM walk_edge ORDER BY id"
        )
    ).all()
    assert sum(r.kind == "bridge" for r in rows) == 1
    one_way = next(r for r in rows if r.name == "单行道")
    assert (one_way.forward, one_way.backward) == (True, False)
    assert (one_way.x, one_way.y) == pytest.approx((LON + D, LAT + D))  # as the file drew it
    assert db.execute(text("SELECT kind, name FROM walk_barrier")).one() == ("river", "白浪河")
    assert network_summary(db).origins == (f"file:streets{suffix}",)


def test_every_bad_row_is_reported_and_nothing_written(db: Session, tmp_path: Path) -> None:
    first = import_network(db, _write(_streets(), tmp_path / "good.geojson"))
    bad = _streets()
    bad.loc[1, "oneway"] = "sometimes"
    bad.loc[2, "barrier"] = "moat"
    bad.loc[3, "geometry"] = Point(LON, LAT)
    bad.loc[4, "geometry"] = LineString()
    with pytest.raises(ImportRejectedError) as caught:
        import_network(db, _write(bad, tmp_path / "bad.geojson"), replace=True)
    reasons = {r.row: r.reason for r in caught.value.rejected}
    assert set(reasons) == {2, 3, 4, 5} and caught.value.total_rows == 6
    assert "oneway 'sometimes'" in reasons[2] and "barrier 'moat'" in reasons[3]
    assert "geometry is a Point" in reasons[4] and "empty" in reasons[5]
    assert "6 行network中有 4 行被拒绝" in caught.value.text(Lang.ZH)
    assert network_summary(db).edges == first.summary.edges


def test_a_stored_network_is_replaced_only_when_asked(db: Session, tmp_path: Path) -> None:
    path = _write(_streets(), tmp_path / "streets.geojson")
    import_network(db, path)
    with pytest.raises(ConflictError, match="--replace") as caught:
        import_network(db, path)
    assert "--replace" in (caught.value.zh or "")
    report = import_network(db, path, replace=True)
    assert report.replaced is not None and report.replaced.edges == report.summary.edges


def test_rows_beyond_the_district_are_refused_with_a_datum_hint(
    db: Session, tmp_path: Path
) -> None:
    _district(db)
    # Streets just inside the district's east edge, written in GCJ-02 (as a phone map
    # app's export is) and given as WGS84: they land ~500 m east, beyond the boundary.
    east = _moved(_streets(), 119.199 - (LON + 2 * D))
    coords = shapely.get_coordinates(east.geometry.array)
    x, y = from_wgs84(coords[:, 0], coords[:, 1], GCJ02)
    gcj = east.copy()
    gcj.geometry = shapely.set_coordinates(  # type: ignore[assignment]
        np.asarray(east.geometry.array, dtype=object).copy(), np.column_stack([x, y])
    )
    path = _write(gcj, tmp_path / "gcj.geojson")
    with pytest.raises(ImportRejectedError) as caught:
        import_network(db, path, WGS84)
    reasons = [r.reason for r in caught.value.rejected]
    assert reasons and all("outside the district 370705" in r for r in reasons)
    assert all("re-run with --datum gcj02" in r for r in reasons)
    report = import_network(db, path, GCJ02)
    assert report.summary.edges == 7
    stored = db.execute(text("SELECT ST_XMax(ST_Extent(geom)) FROM walk_edge")).scalar_one()
    assert stored == pytest.approx(119.199 - D, abs=1e-5)  # converted back exactly


def test_no_district_or_anywhere_skips_the_district_check(db: Session, tmp_path: Path) -> None:
    far = _write(_moved(_streets(), 10.0), tmp_path / "far.geojson")
    assert import_network(db, far).summary.edges == 7  # no district loaded
    _district(db)
    with pytest.raises(ImportRejectedError):
        import_network(db, far, replace=True)
    assert import_network(db, far, replace=True, anywhere=True).summary.edges == 7


def test_a_declared_crs_contradicting_the_datum_is_refused(db: Session, tmp_path: Path) -> None:
    path = _write(_streets().to_crs(4549), tmp_path / "projected.gpkg")
    with pytest.raises(DatumMismatchError, match="EPSG:4549"):
        import_network(db, path, WGS84)
    assert import_network(db, path, parse_datum("EPSG:4549")).summary.edges == 7


def test_unreadable_and_unsupported_files(db: Session, tmp_path: Path) -> None:
    csv = tmp_path / "streets.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(ImportFileError, match=r"unsupported file type \.csv"):
        import_network(db, csv)
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"not a geopackage")
    with pytest.raises(ImportFileError, match=r"broken\.gpkg"):
        import_network(db, broken)
    with pytest.raises(InvalidParameterError, match="WGS84"):
        import_network(db, pyrosm.get_data("test_pbf"), GCJ02)


def test_an_osm_extract_keeps_osm_nodes_and_tags(db: Session) -> None:
    report = import_network(db, pyrosm.get_data("test_pbf"))
    osm = pyrosm.OSM(pyrosm.get_data("test_pbf"))
    nodes, ways = osm.get_network(network_type="walking", nodes=True)
    summary = report.summary
    assert summary.edges == len(ways) and summary.nodes == len(set(ways["u"]) | set(ways["v"]))
    assert dict(summary.kinds)["bridge"] == 4 and summary.barriers >= 1
    # pyrosm measures on a sphere, the store on the WGS84 ellipsoid: 0.3 % apart at 60°N.
    assert summary.km == pytest.approx(ways["length"].sum() / 1000, rel=5e-3)
    assert summary.origins == ("osm:test.osm.pbf",)
    del nodes


def test_central_helsinki_with_its_tunnels_and_barriers(db: Session) -> None:
    summary = import_network(db, pyrosm.get_data("helsinki_pbf")).summary
    kinds = dict(summary.kinds)
    assert (summary.edges, summary.nodes) == (6363, 5559)
    assert kinds["tunnel"] > 500 and kinds["steps"] > 50 and kinds["crossing"] > 100
    barriers = dict(db.execute(text("SELECT kind, count(*) FROM walk_barrier GROUP BY kind")).all())
    assert barriers["rail"] > 0 and barriers["wall"] > 0 and barriers["fence"] > 0
    assert (
        db.execute(
            text("SELECT count(*) FROM walk_barrier WHERE GeometryType(geom) LIKE '%POLYGON'")
        ).scalar_one()
        == 0
    )  # closed walls and fences kept as rings


def test_an_extract_of_another_city_is_refused_where_a_district_is_loaded(
    db: Session,
) -> None:
    _district(db)
    with pytest.raises(ImportFileError, match=r"none of its .* walkable ways lies within"):
        import_network(db, pyrosm.get_data("test_pbf"))
    assert import_network(db, pyrosm.get_data("test_pbf"), anywhere=True).summary.edges > 1000
