"""Field names of a Shapefile: a dBase (DBF) column name holds at most 10 characters.

One table, ``SHORT_NAMES``, maps every longer property name of the collections
to its short name; a collection's own table is that table applied to its fields
(``dbf_names``), listed per collection in ``docs/exports.md`` and written into the
README of every zipped Shapefile. Names of 10 characters or fewer stay as they are.
A name missing from the table (a collection added later) is cut to 10 characters
and numbered on a clash, so a file is always written, but the test of this module
fails until the table names it: the mapping stays documented, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable

DBF_NAME_MAX = 10
"""Characters in a dBase III column name (the .dbf of a Shapefile)."""

SHORT_NAMES: dict[str, str] = {
    "admin_level": "adm_level",
    "area_code": "area_code",
    "building_name": "bldg_name",
    "carried_out_on": "carried",
    "buildings_covered": "bldg_cov",
    "buildings_uncovered": "bldg_uncov",
    "category_name": "cat_name",
    "closed_at": "closed_at",
    "community_code": "comm_code",
    "community_name": "comm_name",
    "council_name": "cncl_name",
    "coverage_rate": "cov_rate",
    "covered_buildings": "cov_bldgs",
    "covered_households": "cov_hh",
    "deadline_at": "deadline",
    "discussed_on": "discussed",
    "evaluated_on": "evaluated",
    "description": "descr",
    "district_code": "dist_code",
    "district_name": "dist_name",
    "facilities_within": "fac_within",
    "facility_id": "fac_id",
    "facility_name": "fac_name",
    "facility_type": "fac_type",
    "facility_type_name": "fac_tname",
    "floating_population": "float_pop",
    "floor_area_m2": "floor_m2",
    "handling_level": "hand_level",
    "households_covered": "hh_covered",
    "households_uncovered": "hh_uncov",
    "mean_distance_m": "mean_dist",
    "nearest_distance_m": "near_dist",
    "nearest_facility_id": "near_fid",
    "nearest_facility_name": "near_fname",
    "opening_hours": "open_hours",
    "p90_distance_m": "p90_dist",
    "parent_code": "parent",
    "proposed_on": "proposed",
    "reported_at": "reported",
    "representative_lat": "rep_lat",
    "representative_lon": "rep_lon",
    "subdistrict_code": "subd_code",
    "subdistrict_name": "subd_name",
    "type_name_zh": "type_zh",
    "updated_at": "updated",
}
"""Long property name → its DBF column name (≤ 10 characters, unique within a collection)."""


def dbf_names(names: Iterable[str]) -> dict[str, str]:
    """Each property name → its DBF column name, in order, no two alike (case-insensitive,
    as dBase compares them)."""
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for name in names:
        short = name if len(name) <= DBF_NAME_MAX else SHORT_NAMES.get(name, name[:DBF_NAME_MAX])
        candidate, n = short, 1
        while candidate.lower() in taken:
            suffix = f"_{n}"
            candidate = short[: DBF_NAME_MAX - len(suffix)] + suffix
            n += 1
        taken.add(candidate.lower())
        mapping[name] = candidate
    return mapping


def undocumented(names: Iterable[str]) -> list[str]:
    """The names ``SHORT_NAMES`` should list and does not (too long, not in the table)."""
    return [n for n in names if len(n) > DBF_NAME_MAX and n not in SHORT_NAMES]
