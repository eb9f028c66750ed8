"""Bulk ingest of incidents: routed like live intake, histories replayed, all or nothing.

Each test builds the small district of ``tests.gis.incidents.incident_district`` inside
its rolled-back ``db`` session: grids A and B in the west community with a
boundary road about 36 m wide between them, grid C in the east one, a park
no grid covers (about 900 m wide); grid A has a primary grid manager, grid C
nobody; the handler 赵处置员 and two namesakes 张同名 are in no grid.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.errors import ImportRejectedError
from gis.geo.datum import WGS84
from gis.imports.importer import import_file
from gis.incidents.deadlines import deadline_after
from gis.incidents.ingest import IncidentIn, ingest_incidents
from gis.incidents.intake import Report, create_incident
from gis.incidents.records import get_incident, history
from gis.incidents.workflow import Action, Step
from gis.principal import Principal
from tests.gis.incidents.incident_district import District, insert_district

CST = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2025, 3, 7, 9, 0, tzinfo=CST)  # a Friday morning
ON_ROAD = (119.1249, 36.72)  # 8.9 m east of grid A, 26.7 m west of grid B
IN_PARK = (119.195, 36.72)  # in the district, ~450 m from grid C
OUTSIDE = (119.30, 36.72)  # 8.9 km east of the district


@pytest.fixture
def district(db: Session) -> District:
    return insert_district(db)


def _row(row: int, lon: float, lat: float, **kw: object) -> IncidentIn:
    values: dict[str, object] = {
        "row": row,
        "category": "street_order",
        "lon": lon,
        "lat": lat,
        "reported_at": T0,
        "ext_id": f"E{row}",
    }
    values.update(kw)
    return IncidentIn(**values)  # type: ignore[arg-type]


def _count(db: Session, table: str) -> int:
    return int(db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_ingested_rows_look_exactly_like_live_intake(db: Session, district: District) -> None:
    live = [
        create_incident(
            db,
            Report(
                category="street_order",
                lon=lon,
                lat=lat,
                description=None,
                source="hotline",
                reported_at=T0,
            ),
            Principal.system("import:bulk"),
        )
        for lon, lat in ((119.11, 36.72), ON_ROAD, (119.16, 36.72))
    ]
    result = ingest_incidents(
        db,
        [
            _row(1, 119.11, 36.72, source="hotline"),
            _row(2, *ON_ROAD, source="hotline"),
            _row(3, 119.16, 36.72, source="hotline"),
        ],
        principal=Principal.system("import:bulk"),
    )
    assert (result.inserted, result.snapped, result.transitions) == (3, 1, 3)
    assert result.by_status == {"reported": 3}
    ids = db.execute(text("SELECT id FROM incident WHERE ext_id LIKE 'E%' ORDER BY ext_id"))
    bulk = [get_incident(db, int(i)) for i in ids.scalars()]
    for mine, theirs in zip(bulk, live, strict=True):
        skip = {"id"}
        assert {k: v for k, v in vars(mine).items() if k not in skip} == {
            k: v for k, v in vars(theirs).items() if k not in skip
        }
        assert [(h.action, h.actor, h.at, h.note, h.to_level) for h in history(db, mine.id)] == [
            (h.action, h.actor, h.at, h.note, h.to_level) for h in history(db, theirs.id)
        ]
        assert _refs(db, mine.id) == _refs(db, theirs.id) == ["import:bulk"]
    a, road, c = bulk
    assert a.grid_id == district.grid_a and a.handler_staff_id == district.manager_a
    assert a.community_id == district.west and a.subdistrict_id == district.subdistrict
    assert road.grid_id == district.grid_a and road.snapped_m == pytest.approx(8.9, abs=0.2)
    assert "snapped 8.9 m to the nearest grid" in (history(db, road.id)[0].note or "")
    assert c.grid_id == district.grid_c and c.handler_staff_id is None  # nobody in grid C
    assert a.version == 1 and a.status == "reported"


def _refs(db: Session, incident_id: int) -> list[str | None]:
    return list(
        db.execute(
            text("SELECT actor_ref FROM incident_transition WHERE incident_id = :i ORDER BY id"),
            {"i": incident_id},
        ).scalars()
    )


def test_every_step_of_an_import_names_the_file_as_who_took_it(
    db: Session, district: District
) -> None:
    """The ref is cut to the column's 40 characters; the history's actor keeps the name."""
    name = "import:" + "热线工单导出" * 8 + ".csv"
    steps = (Step(Action.ACCEPT, T0 + dt.timedelta(hours=1)),)
    ingest_incidents(db, [_row(1, 119.11, 36.72, steps=steps)], principal=Principal.system(name))
    [incident_id] = db.execute(text("SELECT id FROM incident WHERE ext_id = 'E1'")).scalars()
    assert _refs(db, incident_id) == [name[:40], name[:40]]
    assert {h.actor for h in history(db, incident_id)} == {name}


def test_unroutable_rows_stop_the_whole_ingest_with_a_report(
    db: Session, district: District
) -> None:
    with pytest.raises(ImportRejectedError) as caught:
        ingest_incidents(
            db,
            [
                _row(1, 119.11, 36.72),
                _row(2, *IN_PARK),
                _row(3, *OUTSIDE, location_datum="wgs84"),
                _row(4, *ON_ROAD),
            ],
            principal=Principal.system("import:x.csv"),
            snap_tolerance_m=30,
        )
    err = caught.value
    assert [(r.row, r.ident) for r in err.rejected] == [(2, "E2"), (3, "E3")]
    park, outside = (r.reason for r in err.rejected)
    assert "lies in the district but 447 m from the nearest grid 370705001002001" in park
    assert "snap tolerance of 30 m" in park
    assert "lies 8,934 m outside the district area 370705 (370705)" in outside
    assert "GCJ-02" in outside  # the likely datum mistake for a WGS84 point
    assert _count(db, "incident") == 0 and _count(db, "incident_transition") == 0
    # A wider tolerance takes the park point; nothing of the failed batch remains.
    result = ingest_incidents(
        db, [_row(1, *IN_PARK)], principal=Principal.system("import:x.csv"), snap_tolerance_m=500
    )
    assert result.snapped == 1 and _count(db, "incident") == 1


def test_duplicate_ext_ids_and_unknown_categories_are_reported_per_row(
    db: Session, district: District
) -> None:
    ingest_incidents(
        db, [_row(1, 119.11, 36.72, ext_id="H-1")], principal=Principal.system("import:a")
    )
    with pytest.raises(ImportRejectedError) as caught:
        ingest_incidents(
            db,
            [
                _row(1, 119.11, 36.72, ext_id="H-1"),
                _row(2, 119.12, 36.72, ext_id="H-2"),
                _row(3, 119.13, 36.72, ext_id="H-2"),
            ],
            principal=Principal.system("import:b"),
        )
    assert {r.row: r.reason for r in caught.value.rejected} == {
        1: "duplicate ext_id H-1: already in the database",
        3: "duplicate ext_id H-2 (also in row 2)",
    }
    with pytest.raises(ImportRejectedError, match="row 2 \\(E2\\): unknown incident category"):
        ingest_incidents(
            db,
            [_row(1, 119.11, 36.72), _row(2, 119.11, 36.72, category="noise")],
            principal=Principal.system("x"),
        )
    assert _count(db, "incident") == 1


def test_a_historical_case_with_rework_is_stored_with_its_history(
    db: Session, district: District
) -> None:
    h = dt.timedelta(hours=1)
    steps = (
        Step(Action.ACCEPT, T0 + 0.5 * h),
        Step(Action.DISPATCH, T0 + h),
        Step(Action.HANDLE, T0 + 2 * h),
        Step(Action.FEEDBACK, T0 + 3 * h),
        Step(Action.REWORK, T0 + 4 * h, "the pile is still there"),
        Step(Action.HANDLE, T0 + 5 * h),
        Step(Action.FEEDBACK, T0 + 6 * h),
        Step(Action.VERIFY, T0 + 7 * h),
    )
    result = ingest_incidents(
        db,
        [_row(1, 119.11, 36.72, steps=steps, handler_staff_id=district.handler)],
        principal=Principal.system("import:2025.csv"),
    )
    assert result.by_status == {"closed": 1} and result.transitions == 9
    case = get_incident(db, int(db.execute(text("SELECT id FROM incident")).scalar_one()))
    assert case.status == "closed" and case.rework_count == 1 and case.version == 9
    assert case.clock_started_at == T0 + 4 * h  # the clock restarts at the rework
    assert case.deadline_at == deadline_after("street_order", T0 + 4 * h)
    assert case.closed_at == T0 + 7 * h
    assert case.handler_staff_id == district.handler
    steps_stored = history(db, case.id)
    assert [s.action for s in steps_stored] == [
        "reported",
        "accept",
        "dispatch",
        "handle",
        "feedback",
        "rework",
        "handle",
        "feedback",
        "verify",
    ]
    assert {s.actor for s in steps_stored} == {"import:2025.csv"}
    assert steps_stored[5].note == "the pile is still there"
    assert steps_stored[5].from_state == "feedback" and steps_stored[5].to_state == "dispatched"


def test_an_illegal_history_is_refused_before_anything_is_written(
    db: Session, district: District
) -> None:
    h = dt.timedelta(hours=1)
    with pytest.raises(ImportRejectedError) as caught:
        ingest_incidents(
            db,
            [
                _row(1, 119.11, 36.72, steps=(Step(Action.HANDLE, T0 + h),)),
                _row(2, 119.11, 36.72, steps=(Step(Action.ACCEPT, T0 - h),)),
                _row(3, 119.11, 36.72, steps=(Step(Action.CANCEL, T0 + h),)),
            ],
            principal=Principal.system("import:x"),
        )
    reasons = {r.row: r.reason for r in caught.value.rejected}
    assert "cannot handle a case that is reported" in reasons[1]
    assert "is before reported_at" in reasons[2]
    assert "cancel (作废) needs a note" in reasons[3]
    assert _count(db, "incident") == 0


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = sorted({k for r in rows for k in r})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _case(ext_id: str, **cells: str) -> dict[str, str]:
    return {
        "ext_id": ext_id,
        "category": "市容环境",
        "lon": "119.11",
        "lat": "36.72",
        "reported_at": "2025-03-07 09:00",
        **cells,
    }


def test_csv_import_of_past_cases(db: Session, district: District, tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "2025.csv",
        [
            _case(
                "C1",
                accepted_at="2025-03-07 09:10",
                dispatched_at="2025-03-07 09:10",  # same minute: accepted first
                handled_at="2025-03-07 10:00; 2025-03-07 14:00",
                feedback_at="2025-03-07 10:30;2025-03-07 14:30",
                rework_at="2025-03-07 11:00",
                closed_at="2025-03-07 15:00",
                evaluated_at="2025-03-08 09:00",
                handler="赵处置员",
            ),
            _case("C2", status="cancelled", cancelled_at="2025-03-07 09:05", cancel_reason="重复"),
            _case("C3", lon=str(ON_ROAD[0]), lat=str(ON_ROAD[1])),
        ],
    )
    report = import_file(db, "incidents", path, WGS84)
    assert report.rows_imported == 3
    assert (
        "statuses: 1 cancelled, 1 evaluated, 1 reported; 13 workflow transitions"
        in (report.notes[0])
    )
    assert any("1 incidents lay outside every grid and were snapped" in n for n in report.notes)
    rows = {
        r.ext_id: r
        for r in db.execute(
            text(
                "SELECT ext_id, id, status, rework_count, version, handler_staff_id, closed_at,"
                " clock_started_at, snapped_m FROM incident"
            )
        )
    }
    c1, c2, c3 = rows["C1"], rows["C2"], rows["C3"]
    assert (c1.status, c1.rework_count, c1.version) == ("evaluated", 1, 10)
    assert c1.handler_staff_id == district.handler
    assert c1.closed_at == dt.datetime(2025, 3, 7, 15, 0, tzinfo=CST)
    assert c1.clock_started_at == dt.datetime(2025, 3, 7, 11, 0, tzinfo=CST)
    assert [s.action for s in history(db, c1.id)][:3] == ["reported", "accept", "dispatch"]
    assert {s.actor for s in history(db, c1.id)} == {"import:2025.csv"}
    [entry] = audit.entries(db, action="import.")
    assert (entry.principal, entry.role, entry.action, entry.object) == (
        "import:2025.csv",
        "system",
        "import.incidents",
        "file:2025.csv",
    )
    assert entry.detail == {"rows": 3, "datum": "wgs84"}
    assert (c2.status, c2.version, c2.handler_staff_id) == ("cancelled", 2, district.manager_a)
    assert history(db, c2.id)[-1].note == "重复"
    assert c3.status == "reported" and c3.snapped_m == pytest.approx(8.9, abs=0.2)


def test_csv_history_problems_are_reported_per_row(
    db: Session, district: District, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "bad.csv",
        [
            _case("B1", status="closed", accepted_at="2025-03-07 09:10", closed_at="2025-03-08"),
            _case(
                "B2",
                accepted_at="2025-03-07 09:10",
                dispatched_at="2025-03-07 09:20",
                handled_at="2025-03-07 10:00",
                feedback_at="2025-03-07 09:50",  # before handled_at
            ),
            _case(
                "B3",
                status="dispatched",
                accepted_at="2025-03-07 09:10",
                dispatched_at="2025-03-07 09:20",
                handled_at="2025-03-07 10:00",
            ),
            _case("B4", cancelled_at="2025-03-07 09:10"),
            _case("B5", accepted_at="2025-03-07 09:10;2025-03-07 09:20"),
            _case("B6", handler="张同名"),
            _case("B7", handler="nobody"),
            _case("B8", accepted_at="2025-03-07 08:00"),
            _case("B9", cancel_reason="重复"),
        ],
    )
    with pytest.raises(ImportRejectedError) as caught:
        import_file(db, "incidents", path, WGS84)
    reasons = {r.row: r.reason for r in caught.value.rejected}
    assert reasons[1] == "status closed needs dispatched_at, handled_at, feedback_at (missing)"
    assert (
        "the times do not form a legal history: cannot feedback a case that is dispatched"
        in (reasons[2])
    )
    assert reasons[3] == (
        "status is dispatched, but the times given lead to handled: correct the status or "
        "drop the later times"
    )
    assert "cancel (作废) needs a note saying why" in reasons[4]
    assert reasons[5] == "accepted_at holds 2 times; only feedback_at, handled_at, rework_at may"
    assert "handler '张同名' names 2 staff members" in reasons[6] and "give the id" in reasons[6]
    assert reasons[7] == "unknown handler 'nobody': no staff member has this id or name"
    assert "is before reported_at" in reasons[8]
    assert reasons[9] == "cancel_reason is given but cancelled_at is not"
    assert _count(db, "incident") == 0
