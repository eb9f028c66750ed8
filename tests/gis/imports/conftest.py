"""The reference district inserted in each test's rolled-back transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.gis.imports.import_district import C1, C2, DISTRICT, G1, G2, insert_area, insert_grid


@pytest.fixture
def ref(db: Session) -> dict[str, int]:
    """The minimal district the importer checks rows against; ids by code."""
    ids: dict[str, int] = {}
    ids["370705"] = insert_area(db, "370705", "district", None, DISTRICT)
    ids["370705001"] = insert_area(db, "370705001", "subdistrict", ids["370705"], DISTRICT)
    ids["370705001001"] = insert_area(db, "370705001001", "community", ids["370705001"], C1)
    ids["370705001002"] = insert_area(db, "370705001002", "community", ids["370705001"], C2)
    ids["370705001001001"] = insert_grid(db, "370705001001001", ids["370705001001"], G1)
    ids["370705001002001"] = insert_grid(db, "370705001002001", ids["370705001002"], G2)
    db.execute(
        text(
            "INSERT INTO facility_type (code, name_zh, name_en, radius_m, life_circle,"
            " norm_source) VALUES"
            " ('health_station', '社区卫生服务站', 'community health station', 1000, '15min',"
            "  'GB 50180-2018'),"
            " ('kindergarten', '幼儿园', 'kindergarten', 300, '5min', 'GB 50180-2018')"
        )
    )
    return ids
