"""gis.care.emergency and dispatch: the button files a case and sends the nearest free worker,
by walk where a network exists; arrival and close are recorded."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pytest
from shapely import LineString
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.care import emergency
from gis.care.dispatch import WalkNetworks
from gis.errors import ConflictError, NotFoundError
from gis.network.store import replace_network
from tests.gis.care.care_district import DEVICES_KEY, T0, east_of_home, insert_care, send
from tests.gis.people.people_district import B, C

HOME = east_of_home(0)
CHEN_AT = (119.1345, 36.7301)  # 400 m east of home, across the river
ZHOU_AT = (119.125, 36.7301)  # 450 m west, on home's side


def place_workers(db: Session) -> None:
    result = send(
        db,
        [("W-CHEN", T0, *CHEN_AT), ("W-ZHOU", T0, *ZHOU_AT)],
        now=T0 + dt.timedelta(minutes=1),
    )
    assert result.stored == 2


def river_with_one_bridge(db: Session) -> None:
    """Streets on both banks of a river at 119.133 that only a bridge 2 km north crosses."""
    lines = [
        LineString([(119.120, 36.73), (119.132, 36.73)]),
        LineString([(119.132, 36.73), (119.132, 36.75)]),
        LineString([(119.132, 36.75), (119.134, 36.75)]),
        LineString([(119.134, 36.75), (119.134, 36.73)]),
        LineString([(119.134, 36.73), (119.140, 36.73)]),
    ]
    edges = gpd.GeoDataFrame({"kind": ["street"] * 4 + ["street"]}, geometry=lines, crs=4326)
    river = gpd.GeoDataFrame(
        {"kind": ["river"]}, geometry=[LineString([(119.133, 36.70), (119.133, 36.748)])], crs=4326
    )
    replace_network(db.connection(), edges, river, "test")


def test_without_a_network_the_nearest_by_straight_line_goes(db: Session) -> None:
    care = insert_care(db)
    place_workers(db)
    call = emergency.call(db, DEVICES_KEY, WalkNetworks(), "ZHANG-1", *HOME, at=T0)
    assert call.worker is not None
    assert (call.worker.id, call.worker.method) == (care.chen, "line")
    assert 380 < call.worker.distance_m < 420
    case = db.execute(
        text(
            "SELECT i.category, g.code FROM incident i JOIN grid g ON g.id = i.grid_id"
            " WHERE i.id = :i"
        ),
        {"i": call.incident_id},
    ).one()
    assert tuple(case) == ("help_request", B)
    busy = db.execute(text("SELECT available FROM care_worker WHERE id = :w"), {"w": care.chen})
    assert busy.scalar_one() is False


def test_across_a_river_the_nearest_on_foot_goes(db: Session) -> None:
    care = insert_care(db)
    place_workers(db)
    river_with_one_bridge(db)
    call = emergency.call(db, DEVICES_KEY, WalkNetworks(), "ZHANG-1", *HOME, at=T0)
    assert call.worker is not None
    assert (call.worker.id, call.worker.method) == (care.zhou, "walk")
    assert 440 < call.worker.distance_m < 520
    # Zhou is busy now: the next call gets Chen, the long way round.
    again = emergency.call(db, DEVICES_KEY, WalkNetworks(), "ZHANG-1", *HOME, at=T0)
    assert again.worker is not None and again.worker.id == care.chen
    assert again.worker.method == "walk" and again.worker.distance_m > 4_000
    # Nobody is free: the call and its case are kept, with nobody sent.
    third = emergency.call(db, DEVICES_KEY, WalkNetworks(), "ZHANG-1", *HOME, at=T0)
    assert third.worker is None and third.incident_id is not None


def test_arrival_is_recorded_when_the_worker_s_device_gets_there(db: Session) -> None:
    care = insert_care(db)
    place_workers(db)
    now = dt.datetime.now(dt.UTC)
    call = emergency.call(db, DEVICES_KEY, WalkNetworks(), "ZHANG-1", *HOME, at=now)
    assert call.worker is not None and call.worker.id == care.chen
    later = now + dt.timedelta(minutes=6)
    send(db, [("W-CHEN", later, *east_of_home(30))], now=later)
    arrived = db.execute(
        text("SELECT arrived_at FROM emergency_call WHERE id = :c"), {"c": call.id}
    ).scalar_one()
    assert arrived == later
    emergency.close(db, DEVICES_KEY, call.id)
    free = db.execute(text("SELECT available FROM care_worker WHERE id = :w"), {"w": care.chen})
    assert free.scalar_one() is True


def test_a_call_from_outside_the_district_is_filed_in_the_home_grid(db: Session) -> None:
    insert_care(db)
    call = emergency.call(db, DEVICES_KEY, WalkNetworks(), "LIU-1", 117.0, 36.6, at=T0)
    grid = db.execute(
        text("SELECT g.code FROM incident i JOIN grid g ON g.id = i.grid_id WHERE i.id = :i"),
        {"i": call.incident_id},
    ).scalar_one()
    assert grid == C and call.worker is None


def test_unknown_devices_and_calls(db: Session) -> None:
    insert_care(db)
    with pytest.raises(NotFoundError):
        emergency.call(db, DEVICES_KEY, WalkNetworks(), "NOBODY", *HOME, at=T0)
    with pytest.raises(NotFoundError):
        emergency.call(db, DEVICES_KEY, WalkNetworks(), "W-CHEN", *HOME, at=T0)  # a worker's
    call = emergency.call(db, DEVICES_KEY, WalkNetworks(), "ZHANG-1", *HOME, at=T0)
    assert call.worker is None  # no worker has a position yet
    with pytest.raises(ConflictError):
        emergency.arrived(db, DEVICES_KEY, call.id)
    with pytest.raises(NotFoundError):
        emergency.close(db, DEVICES_KEY, 999_999)
