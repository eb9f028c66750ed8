"""Every collection's Shapefile field names are documented: ``SHORT_NAMES`` names each
property longer than 10 characters, no two columns of a collection collide, and
``docs/exports.md`` holds the table this module generates (regenerate it with
``python -m tests.gis.exports.test_dbf_table``, which needs DATABASE_URL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.db.models import FacilityType
from gis.exports.dbf_names import DBF_NAME_MAX, dbf_names, undocumented
from gis.features.collections import Collection, catalogue

DOC = Path(__file__).resolve().parents[3] / "docs" / "exports.md"
BEGIN, END = "<!-- dbf-table: begin -->", "<!-- dbf-table: end -->"


def field_table(collections: list[Collection], type_codes: list[str]) -> str:
    """The Markdown tables of DBF names, one per group of collections with the same fields
    (the collections of every facility type named once, with ``<type>``)."""
    groups: dict[tuple[str, tuple[tuple[str, str, str], ...]], list[str]] = {}
    for coll in collections:
        if coll.id.startswith("facilities-"):
            continue  # the same fields as facilities
        cid = coll.id
        for code in type_codes:
            cid = cid.replace(f"-{code}", "-<type>")
        key = (coll.id_type, tuple((p.name, p.type, p.title.zh) for p in coll.properties))
        if cid not in groups.setdefault(key, []):
            groups[key].append(cid)
    lines = [BEGIN]
    for (id_type, fields), ids in groups.items():
        names = ", ".join(f"`{i}`" for i in ids)
        if "facilities" in ids:
            names += ", `facilities-<type>`"
        lines += ["", f"#### {names}", "", "| field | DBF | type | 标题 |", "|---|---|---|---|"]
        short = dbf_names(["id", *(name for name, _, _ in fields)])
        lines.append(f"| `id` | `id` | {id_type} | 编号 |")
        for name, kind, title in fields:
            lines.append(f"| `{name}` | `{short[name]}` | {kind} | {title} |")
    lines += ["", END]
    return "\n".join(lines)


def documented_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index(BEGIN) : text.index(END) + len(END)]


@pytest.fixture
def two_types(db: Session) -> list[str]:
    """Two facility types, so that the collections of each type are in the catalogue."""
    for code, zh in (("kindergarten", "幼儿园"), ("health_station", "社康中心")):
        db.add(
            FacilityType(
                code=code,
                name_zh=zh,
                name_en=code,
                radius_m=300,
                life_circle="5min",
                norm_source="x",
            )
        )
    db.flush()
    return ["kindergarten", "health_station"]


def test_every_long_field_name_is_in_the_table(db: Session, two_types: list[str]) -> None:
    assert any(c.id == "coverage-kindergarten-buildings" for c in catalogue(db))
    for coll in catalogue(db):
        names = ["id", *coll.property_names]
        assert undocumented(names) == [], coll.id
        shorts = [s.lower() for s in dbf_names(names).values()]
        assert len(set(shorts)) == len(shorts) and max(map(len, shorts)) <= DBF_NAME_MAX


def test_docs_list_every_collections_dbf_names(db: Session, two_types: list[str]) -> None:
    expected = field_table(catalogue(db), two_types)
    assert documented_block() == expected, (
        "docs/exports.md's DBF table is out of date; put this between its markers:\n" + expected
    )


if __name__ == "__main__":
    from sqlalchemy import create_engine

    with Session(create_engine(os.environ["DATABASE_URL"])) as session:
        codes = list(session.scalars(select(FacilityType.code)))
        print(field_table(catalogue(session), codes))
