"""gis.care.ingest: history, last positions, geofence alarms filed as cases, refusals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.care import devices
from gis.geo.datum import GCJ02, from_wgs84
from gis.people import registry
from gis.principal import Principal
from tests.gis.care.care_district import (
    T0,
    device_row,
    east_of_home,
    insert_care,
    send,
)
from tests.gis.people.people_district import ADMIN, B


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def test_reports_are_kept_and_the_last_one_is_the_device_s_position(db: Session) -> None:
    insert_care(db)
    inside = east_of_home(100)
    result = send(
        db,
        [
            ("ZHANG-1", minutes(1), *inside),
            ("ZHANG-1", minutes(0), *east_of_home(50)),
            ("LIU-1", minutes(0), 119.17, 36.73),
        ],
    )
    assert (result.received, result.stored, result.repeated, result.rejected) == (3, 3, 0, [])
    assert device_row(db, "ZHANG-1") == (minutes(1), round(inside[0], 5), "inside", 0)
    # The same batch again (its answer was lost): nothing new, nothing moves.
    again = send(db, [("ZHANG-1", minutes(1), *inside)])
    assert (again.stored, again.repeated) == (0, 1)
    count = db.execute(text("SELECT count(*) FROM position_report")).scalar_one()
    assert count == 3


def test_leaving_the_safe_area_files_one_case_in_the_home_grid(db: Session) -> None:
    care = insert_care(db)
    far = east_of_home(2_500)  # in grid C of the other community, 2.5 km from home
    first = send(db, [("ZHANG-1", minutes(0), *far)])
    assert first.alarms == [] and device_row(db, "ZHANG-1")[2:] == ("inside", 1)
    second = send(db, [("ZHANG-1", minutes(1), *far), ("ZHANG-1", minutes(2), *far)])
    assert len(second.alarms) == 1
    alarm = second.alarms[0]
    assert alarm.person_id == care.people.zhang and alarm.grid_code == B
    assert 2_100 < alarm.outside_m < 2_300
    case = db.execute(
        text(
            "SELECT i.category, g.code, i.handler_staff_id, i.source, i.reported_at, i.description"
            " FROM incident i JOIN grid g ON g.id = i.grid_id WHERE i.id = :i"
        ),
        {"i": alarm.incident_id},
    ).one()
    zhang = registry.get_person(db, ADMIN, care.people.zhang)
    assert case[:5] == ("help_request", B, zhang.responsible_staff_id, "device", minutes(1))
    assert "张奶奶" not in case.description and "13800000000" not in case.description
    assert device_row(db, "ZHANG-1")[2:] == ("outside", 0)
    # Still out: no second case. Back home (two reports): the alarm records the return.
    send(db, [("ZHANG-1", minutes(3), *far)])
    back = send(db, [("ZHANG-1", minutes(4), *HOME_POINT), ("ZHANG-1", minutes(5), *HOME_POINT)])
    assert back.returned == 1 and back.alarms == []
    alarms = devices.person_alarms(db, ADMIN, care.people.zhang)
    assert [(a.incident_id, a.returned_at) for a in alarms] == [(alarm.incident_id, minutes(5))]
    cases = db.execute(text("SELECT count(*) FROM incident WHERE source = 'device'")).scalar_one()
    assert cases == 1


HOME_POINT = east_of_home(0)


def test_gps_noise_at_the_edge_raises_nothing(db: Session) -> None:
    insert_care(db)
    edge = [290, 318, 305, 322, 280, 315, 324, 296]  # 300 m circle, 25 m margin
    result = send(db, [("ZHANG-1", minutes(k), *east_of_home(m)) for k, m in enumerate(edge)])
    assert result.alarms == []
    # One stray report far out between good ones: nothing either.
    stray = send(
        db,
        [
            ("ZHANG-1", minutes(20), *east_of_home(900)),
            ("ZHANG-1", minutes(21), *east_of_home(100)),
            ("ZHANG-1", minutes(22), *east_of_home(900)),
        ],
    )
    assert stray.alarms == []
    # A vague report (accuracy 500 m) does not count towards leaving.
    vague = send(
        db,
        [
            ("ZHANG-1", minutes(29), *east_of_home(100)),  # home again: the count resets
            ("ZHANG-1", minutes(30), *east_of_home(900)),
            ("ZHANG-1", minutes(31), *east_of_home(900)),
        ],
        accuracy=[10.0, 10.0, 500.0],
    )
    assert vague.alarms == []


def test_a_polygon_safe_area_replaces_the_circle(db: Session) -> None:
    care = insert_care(db)
    db.execute(
        text(
            "UPDATE person SET safe_area = ST_MakeEnvelope(119.129, 36.729, 119.150, 36.731, 4326)"
            " WHERE id = :p"
        ),
        {"p": care.people.zhang},
    )
    # 1.5 km east is outside the circle but inside the strip: nothing.
    inside_strip = east_of_home(1_500)
    quiet = send(
        db, [("ZHANG-1", minutes(0), *inside_strip), ("ZHANG-1", minutes(1), *inside_strip)]
    )
    assert quiet.alarms == []
    north = (HOME_POINT[0], HOME_POINT[1] + 0.01)  # about 1 km north of the strip
    loud = send(db, [("ZHANG-1", minutes(2), *north), ("ZHANG-1", minutes(3), *north)])
    assert len(loud.alarms) == 1 and 800 < loud.alarms[0].outside_m < 1_000


def test_gcj02_reports_are_stored_in_wgs84(db: Session) -> None:
    insert_care(db)
    lon, lat = from_wgs84([HOME_POINT[0]], [HOME_POINT[1]], GCJ02)
    result = send(db, [("ZHANG-1", minutes(0), float(lon[0]), float(lat[0]))], datum=GCJ02)
    assert result.stored == 1
    stored = db.execute(
        text(
            "SELECT ST_Distance(geom::geography,"
            " ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography), datum FROM position_report"
        ),
        {"x": HOME_POINT[0], "y": HOME_POINT[1]},
    ).one()
    assert stored[0] < 0.5 and stored[1] == "gcj02"


def test_bad_reports_are_refused_one_by_one_and_the_rest_kept(db: Session) -> None:
    insert_care(db)
    result = send(
        db,
        [
            ("ZHANG-1", minutes(0), *HOME_POINT),
            ("NOBODY", minutes(0), *HOME_POINT),
            ("ZHANG-1", minutes(1), float("nan"), 36.73),
            ("ZHANG-1", minutes(2), 36.73, 119.13),  # lat/lon swapped
            ("ZHANG-1", T0 + dt.timedelta(days=3), *HOME_POINT),  # the future
            ("ZHANG-1", T0 - dt.timedelta(days=40), *HOME_POINT),  # older than kept
        ],
    )
    assert result.stored == 1
    assert [r.index for r in result.rejected] == [1, 2, 3, 4, 5]
    assert "register it first" in result.rejected[0].reason
    assert "请先登记" in result.rejected[0].reason_zh
    assert "outside China" in result.rejected[2].reason


def test_a_key_of_one_area_reports_only_its_devices(db: Session) -> None:
    insert_care(db)
    west_key = Principal.system("key:west", scopes=("devices:write",), areas=("370705001001",))
    result = send(
        db,
        [("ZHANG-1", minutes(0), *HOME_POINT), ("LIU-1", minutes(0), 119.17, 36.73)],
        principal=west_key,
    )
    assert result.stored == 1 and [r.device_id for r in result.rejected] == ["LIU-1"]


def test_removing_a_person_removes_their_device_and_history(db: Session) -> None:
    care = insert_care(db)
    send(db, [("ZHANG-1", minutes(k), *east_of_home(900)) for k in range(3)])
    registry.remove(db, ADMIN, care.people.zhang)
    left = db.execute(
        text(
            "SELECT (SELECT count(*) FROM device WHERE id = 'ZHANG-1'),"
            " (SELECT count(*) FROM position_report WHERE device_id = 'ZHANG-1'),"
            " (SELECT count(*) FROM geofence_alarm)"
        )
    ).one()
    assert tuple(left) == (0, 0, 0)


def test_a_report_twice_in_one_batch_is_stored_once_and_counted_once(db: Session) -> None:
    insert_care(db)
    far = east_of_home(900)
    once = send(db, [("ZHANG-1", minutes(0), *far), ("ZHANG-1", minutes(0), *far)])
    assert (once.stored, once.repeated) == (1, 1)
    assert device_row(db, "ZHANG-1")[2:] == ("inside", 1)  # one report out, not two


def test_a_late_report_is_kept_but_moves_nothing(db: Session) -> None:
    insert_care(db)
    send(db, [("ZHANG-1", minutes(10), *HOME_POINT)])
    late = send(db, [("ZHANG-1", minutes(5), *east_of_home(900))])
    assert late.stored == 1
    assert device_row(db, "ZHANG-1") == (minutes(10), round(HOME_POINT[0], 5), "inside", 0)
