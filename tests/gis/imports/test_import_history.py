"""Incident rows: category, dates, and the history columns replayed through the workflow."""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import Point
from sqlalchemy.orm import Session

from tests.gis.imports.import_district import reasons, rejected, write_geojson


def test_incident_date_problems(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    p = Point(119.12, 36.70)
    path = write_geojson(
        tmp_path / "i.geojson",
        [
            ({"ext_id": "I1", "category": "c", "reported_at": "yesterday"}, p),
            ({"ext_id": "I2", "category": "c", "reported_at": "2024-13-45T00:00:00"}, p),
            ({"ext_id": "I3", "category": "c", "reported_at": "2999-01-01T00:00:00+08:00"}, p),
            ({"ext_id": "I4", "category": "c"}, p),
            ({"ext_id": "I5", "category": "c" * 41, "reported_at": "2024-01-01"}, p),
        ],
    )
    err = rejected(db, "incidents", path)
    assert "reported_at 'yesterday' is not an ISO 8601" in reasons(err, 1)
    assert "is not an ISO 8601" in reasons(err, 2)
    assert "in the future" in reasons(err, 3)
    assert "missing reported_at" in reasons(err, 4)
    assert "category is longer than 40" in reasons(err, 5)


def test_incident_category_and_status_must_be_known(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    p = Point(119.12, 36.70)
    at = "2025-03-01T09:00:00+08:00"
    path = write_geojson(
        tmp_path / "i.geojson",
        [
            (
                {
                    "ext_id": "K1",
                    "category": "dispute",
                    "reported_at": at,
                    "status": "accepted",
                    "accepted_at": at,
                },
                p,
            ),
            ({"ext_id": "K2", "category": "noise", "reported_at": at}, p),
            ({"ext_id": "K3", "category": "dispute", "reported_at": at, "status": "done"}, p),
        ],
    )
    err = rejected(db, "incidents", path)
    assert [r.row for r in err.rejected] == [2, 3]
    assert "unknown incident category 'noise'" in reasons(err, 2)
    assert "city_appearance" in reasons(err, 2)
    assert "unknown status 'done'" in reasons(err, 3) and "dispatched" in reasons(err, 3)
