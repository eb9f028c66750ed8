"""People served in the small district of ``tests.gis.incidents.incident_district``.

Three people: 张奶奶 (elderly living alone) in grid B, looked after by grid B's
manager 李网格员; 王大爷 (disabled) in grid A at a building of their own,
looked after by the community worker 赵处置员 (in no grid); 刘阿姨 (very old) in
grid C of the east community, with no responsible worker.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.people import registry
from gis.people.registry import Consent, NewPerson
from gis.principal import Principal, Role
from tests.gis.incidents.incident_district import District, insert_district

A, B, C = "370705001001001", "370705001001002", "370705001002001"
WEST, EAST = "370705001001", "370705001002"
ADMIN = Principal("person", "管理员", role=Role.ADMIN, ref="account:1", username="admin")
CONSENT = Consent("本人", dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC), "定位、紧急救助")


@dataclass(frozen=True)
class People:
    district: District
    building_a: int
    building_c: int
    zhang: int
    wang: int
    liu: int


def building(db: Session, grid_id: int, lon: float) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO building (grid_id, location, households)"
                " VALUES (:g, ST_SetSRID(ST_MakePoint(:x, 36.73), 4326), 20) RETURNING id"
            ),
            {"g": grid_id, "x": lon},
        ).scalar_one()
    )


def insert_people(db: Session) -> People:
    """The small district with its three people, uncommitted."""
    d = insert_district(db)
    building_a = building(db, d.grid_a, 119.11)
    building_c = building(db, d.grid_c, 119.17)

    def add(category: str, name: str, building_id: int, staff: int | None) -> int:
        new = NewPerson(category, name, building_id, CONSENT, "13800000000", "2单元301", staff)
        return registry.register(db, ADMIN, new).id

    zhang = add("elderly_alone", "张奶奶", d.building_b, d.manager_b)
    wang = add("disabled", "王大爷", building_a, d.handler)
    liu = add("elderly", "刘阿姨", building_c, None)
    return People(d, building_a, building_c, zhang, wang, liu)


def staffed(role: Role, areas: tuple[str, ...] | None, staff_id: int | None = None) -> Principal:
    return Principal("person", f"a {role}", role=role, areas=areas, staff_id=staff_id)
