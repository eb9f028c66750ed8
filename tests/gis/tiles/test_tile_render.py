"""Drawing tiles in PostGIS: layers within their zooms, footprints, masking, datums."""

from __future__ import annotations

import datetime as dt

import pytest
from geoalchemy2 import WKTElement
from sqlalchemy.orm import Session

from gis.coverage import tables
from gis.db.models import Building, Grid, Incident
from gis.geo.datum import GCJ02, WGS84, from_wgs84
from gis.incidents.visibility import Scope
from gis.principal import Principal, Role
from gis.tiles.grid import tile_at
from gis.tiles.layers import BUILDINGS, FACILITIES, INCIDENTS, MAIN_LAYERS, layer_named
from gis.tiles.render import render
from tests.api.conftest import load_small_district, point
from tests.tile_checks import decode, features, lonlat, point_of, tile_of

PLANNER = Principal("person", "p", role=Role.PLANNER)
WEST_MANAGER = Principal("person", "m", role=Role.GRID_MANAGER, areas=("370705001001001",))


def test_each_layer_is_drawn_within_its_zooms(db: Session) -> None:
    load_small_district(db)
    scope = Scope.of(PLANNER)
    low = decode(render(db, MAIN_LAYERS, tile_at(*tile_of(119.15, 36.73, 12)), WGS84, scope).data)
    assert set(low) == {"grids", "facilities", "incidents"}
    high = decode(render(db, MAIN_LAYERS, tile_at(*tile_of(119.11, 36.72, 13)), WGS84, scope).data)
    assert {"grids", "buildings", "incidents"} <= set(high)
    assert render(db, [BUILDINGS], tile_at(*tile_of(119.11, 36.72, 12)), WGS84, None).data == b""


def test_footprints_from_zoom_16_points_below(db: Session) -> None:
    load_small_district(db)
    grid = db.query(Grid).filter(Grid.code == "370705001001001").one()
    ring = "119.1101 36.7301,119.1105 36.7301,119.1105 36.7304,119.1101 36.7304,119.1101 36.7301"
    house = Building(
        grid_id=grid.id,
        location=point(119.1103, 36.73025),
        footprint=WKTElement(f"MULTIPOLYGON((({ring})))", srid=4326),
        households=4,
    )
    db.add(house)
    db.flush()
    for z, kind in ((15, "Point"), (16, "Polygon"), (18, "Polygon")):
        t = tile_at(*tile_of(119.1103, 36.73025, z))
        (found,) = [
            f
            for f in features(render(db, [BUILDINGS], t, WGS84, None).data, "buildings")
            if f["id"] == house.id
        ]
        assert found["geometry"]["type"] == kind
        assert found["properties"] == {"households": 4}


def test_personal_cases_shown_in_full_are_reported_for_the_audit(db: Session) -> None:
    load_small_district(db)
    grid = db.query(Grid).filter(Grid.code == "370705001001001").one()
    case = Incident(
        category="help_request",
        reported_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        status="reported",
        geom=point(119.11, 36.72),
        grid_id=grid.id,
    )
    db.add(case)
    db.flush()
    t = tile_at(*tile_of(119.11, 36.72, 12))
    assert render(db, [INCIDENTS], t, WGS84, Scope.of(WEST_MANAGER)).personal_ids == (case.id,)
    masked = render(db, [INCIDENTS], t, WGS84, Scope.of(PLANNER))
    assert masked.personal_ids == ()
    (shown,) = [f for f in features(masked.data, "incidents") if f["id"] == case.id]
    assert shown["properties"]["masked"] is True


def test_a_gcj02_tile_holds_the_converted_points(db: Session) -> None:
    load_small_district(db)
    lon, lat = (float(v[0]) for v in from_wgs84([119.12], [36.73], GCJ02))
    z, y, x = tile_of(lon, lat, 17)
    drawn = render(db, [FACILITIES], tile_at(z, y, x), GCJ02, None)
    (station,) = features(drawn.data, "facilities")
    assert station["properties"]["name"] == "东苑社康中心"
    got = lonlat(z, y, x, *point_of(station))
    assert abs(got[0] - lon) < 3e-6 and abs(got[1] - lat) < 3e-6
    assert render(db, [FACILITIES], tile_at(z, y, x), WGS84, None).data == b""


def test_per_type_facility_layers(db: Session) -> None:
    load_small_district(db)
    layer = layer_named("facilities-health_station")
    t = tile_at(*tile_of(119.15, 36.73, 10))
    names = [
        f["properties"]["name"]
        for f in features(render(db, [layer], t, WGS84, None).data, layer.id)
    ]
    assert names == ["东苑社康中心"]


def test_coverage_tiles_carry_the_coverage_tables_figures(db: Session) -> None:
    load_small_district(db)
    t = tile_at(*tile_of(119.15, 36.73, 13))
    for cid, select in (
        ("coverage-kindergarten-buildings", tables.buildings_select("kindergarten")),
        ("coverage-health_station-grids", tables.grids_select("health_station")),
    ):
        layer = layer_named(cid)
        drawn = render(db, [layer], t, WGS84, None).data
        tiled = {f["id"]: f["properties"] for f in features(drawn, cid)}
        expected = {r.id: r for r in db.execute(select).all()}
        assert tiled and set(tiled) <= set(expected)
        for ident, props in tiled.items():
            row = expected[ident]
            for name, value in props.items():
                assert value == pytest.approx(getattr(row, name)), (cid, ident, name)
