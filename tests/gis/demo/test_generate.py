"""The generated demo district, checked on its frames as a planner would check the map."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry.base import BaseGeometry

from gis.areas.codes import Level, reading_order
from gis.coverage.catalogue import CATALOGUE
from gis.demo._grids import grid_row_height
from gis.demo.generate import DemoDistrict, generate_demo
from gis.demo.inputs import read_inputs
from gis.demo.spec import DEMO_AS_OF
from gis.incidents.deadlines import deadline_after
from gis.incidents.workcalendar import default_calendar
from gis.incidents.workflow import CaseFlow, apply

METRIC = "EPSG:4549"


@pytest.fixture(scope="module")
def inputs() -> tuple[BaseGeometry, pd.DataFrame]:
    return read_inputs()


@pytest.fixture(scope="module")
def demo(inputs: tuple[BaseGeometry, pd.DataFrame]) -> DemoDistrict:
    return generate_demo(*inputs)


def _tiling_errors(
    children: gpd.GeoDataFrame, parents: gpd.GeoDataFrame, key: str
) -> tuple[float, float]:
    """Worst |union of children − parent| and worst summed sibling overlap, in m²."""
    kids, mothers = children.to_crs(METRIC), parents.to_crs(METRIC)
    worst_gap, worst_overlap = 0.0, 0.0
    for code, parent in zip(mothers["code"], mothers.geometry, strict=True):
        geoms = kids.loc[kids[key] == code].geometry.to_numpy()
        assert len(geoms), f"{code} has no children"
        union = shapely.union_all(geoms)
        worst_gap = max(worst_gap, shapely.symmetric_difference(union, parent).area)
        a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        pairs = a < b
        overlap = shapely.area(shapely.intersection(geoms[a[pairs]], geoms[b[pairs]])).sum()
        worst_overlap = max(worst_overlap, float(overlap))
    return worst_gap, worst_overlap


def test_counts_look_like_kuiwen(
    demo: DemoDistrict, inputs: tuple[BaseGeometry, pd.DataFrame]
) -> None:
    divisions = inputs[1]
    assert len(demo.district) == 1
    assert len(demo.subdistricts) == (divisions["level"] == "subdistrict").sum() == 10
    assert len(demo.communities) == (divisions["level"] == "community").sum()
    assert 350 <= len(demo.grids) <= 450
    assert len(demo.buildings) >= 15_000
    assert 90_000 <= demo.grids["households"].sum() <= 110_000
    assert demo.district["households"].iloc[0] == demo.grids["households"].sum()
    assert demo.notes.villages_folded == (divisions["level"] == "village").sum()
    assert (demo.communities["households"] >= 200).all()


def test_codes_are_real_and_extend_their_parents(
    demo: DemoDistrict, inputs: tuple[BaseGeometry, pd.DataFrame]
) -> None:
    divisions = inputs[1].set_index("code")
    assert set(demo.subdistricts["code"]) == set(
        divisions.index[divisions["level"] == "subdistrict"]
    )
    for row in demo.communities.itertuples():
        assert divisions.loc[row.code, "level"] == "community"
        assert divisions.loc[row.code, "parent_code"] == row.parent_code
        assert (
            row.name in divisions.loc[row.code, "name"]
            or row.name.removesuffix("社区") in (divisions.loc[row.code, "name"])
        )
    assert demo.grids["code"].str.fullmatch(r"[0-9]{15}").all()
    assert (demo.grids["code"].str[:12] == demo.grids["community_code"]).all()
    for code, group in demo.grids.groupby("community_code"):
        sequences = sorted(int(c[12:]) for c in group["code"])
        assert sequences == list(range(1, len(group) + 1)), code
    assert demo.grids["code"].is_unique


def test_grids_are_numbered_west_to_east_north_to_south(demo: DemoDistrict) -> None:
    grids = demo.grids.to_crs(METRIC)
    checked = 0
    for _, group in grids.groupby("community_code"):
        if len(group) < 3:
            continue
        points = shapely.get_coordinates(shapely.centroid(group.geometry.to_numpy()))
        order = reading_order(points[:, 0], points[:, 1], grid_row_height(group.area.to_numpy()))
        sequences = [int(group["code"].iloc[i][12:]) for i in order]
        assert sequences == sorted(sequences)
        checked += 1
    assert checked >= 10


def test_subdistricts_tile_the_district(demo: DemoDistrict) -> None:
    gap, overlap = _tiling_errors(
        demo.subdistricts.assign(district="370705"), demo.district, "district"
    )
    assert gap < 1.0 and overlap < 1.0


def test_communities_tile_their_subdistricts(demo: DemoDistrict) -> None:
    gap, overlap = _tiling_errors(demo.communities, demo.subdistricts, "parent_code")
    assert gap < 1.0 and overlap < 1.0


def test_grids_tile_their_communities(demo: DemoDistrict) -> None:
    gap, overlap = _tiling_errors(demo.grids, demo.communities, "community_code")
    assert gap < 1.0 and overlap < 1.0
    assert shapely.coverage_is_valid(demo.grids.geometry.to_numpy())


def test_district_keeps_the_real_outline(
    demo: DemoDistrict, inputs: tuple[BaseGeometry, pd.DataFrame]
) -> None:
    real = gpd.GeoSeries([inputs[0]], crs=4326).to_crs(METRIC).iloc[0]
    ours = demo.district.to_crs(METRIC).geometry.iloc[0]
    assert shapely.symmetric_difference(real, ours).area < 1e-4 * real.area
    assert 170e6 < ours.area < 185e6  # 176.9 km² per data/boundaries/README.md


def test_every_grid_holds_200_to_300_households_all_in_its_buildings(
    demo: DemoDistrict,
) -> None:
    assert demo.grids["households"].between(200, 300).all()
    built = demo.buildings.groupby("grid_code")["households"].sum()
    assert (built.reindex(demo.grids["code"]).to_numpy() == demo.grids["households"]).all()
    community = demo.grids.groupby("community_code")["households"].sum()
    assert (
        community.reindex(demo.communities["code"]).to_numpy() == demo.communities["households"]
    ).all()


def test_every_building_lies_in_exactly_its_own_grid(demo: DemoDistrict) -> None:
    grids = demo.grids.geometry.to_numpy()
    points, hits = shapely.STRtree(grids).query(
        demo.buildings.geometry.to_numpy(), predicate="covered_by"
    )
    assert np.bincount(points, minlength=len(demo.buildings)).tolist() == [1] * len(demo.buildings)
    assert (
        demo.grids["code"].to_numpy()[hits] == demo.buildings["grid_code"].to_numpy()[points]
    ).all()
    own = demo.grids.set_index("code").geometry.loc[demo.buildings["grid_code"]].to_numpy()
    assert shapely.covers(own, demo.buildings["footprint"].to_numpy()).all()


def test_footprints_are_small_separate_rectangles(demo: DemoDistrict) -> None:
    footprints = demo.buildings["footprint"]
    assert (footprints.geom_type == "MultiPolygon").all()
    assert shapely.is_valid(footprints.to_numpy()).all()
    area = footprints.to_crs(METRIC).area
    assert area.between(40, 1200).all()
    a, b = shapely.STRtree(footprints.to_numpy()).query(
        footprints.to_numpy(), predicate="intersects"
    )
    assert (a == b).all()


def test_buildings_mix_estates_walkups_and_village_houses(demo: DemoDistrict) -> None:
    b = demo.buildings
    houses, blocks = b[b["kind"] == "low_rise"], b[b["kind"] != "low_rise"]
    assert houses["households"].between(1, 4).all()
    assert blocks["households"].between(20, 130).all()
    assert b.loc[b["kind"] == "high_rise", "floors"].min() >= 10
    assert (b["floors"] > 0).all() and (b["households"] > 0).all()
    assert len(houses) > 10 * len(blocks) and blocks["households"].sum() > 30_000
    assert b["ext_id"].is_unique
    names = dict(zip(demo.communities["code"], demo.communities["name"], strict=True))
    for row in b.sample(200, random_state=0).itertuples():
        assert row.address.startswith("奎文区")
        assert names[row.community_code] in row.address
        assert re.search(r"\d+号(楼)?$", row.address)


def test_staff_follow_the_kuiwen_ratios(demo: DemoDistrict) -> None:
    staff, links = demo.staff, demo.staff_grids
    roles = staff["role"].value_counts()
    households = demo.grids["households"].sum()
    assert abs(roles["grid_manager"] - households / 200) < 0.1 * households / 200
    assert abs(roles["community_worker"] - households / 300) < 0.15 * households / 300
    assert roles["mediator"] == len(demo.communities)
    managers = links.merge(staff, on="staff_key").query("role == 'grid_manager'")
    primary = managers[managers["is_primary"]]
    assert set(primary["grid_code"]) == set(demo.grids["code"])
    assert managers.groupby("staff_key").size().between(1, 2).all()
    assert primary.groupby("grid_code").size().max() >= 2
    duties = staff.loc[staff["role"] == "community_worker", "specialist_duty"]
    assert 0.3 < duties.notna().mean() < 0.9
    assert staff["phone"].str.fullmatch(r"170-0000-\d{4}").all()
    assert staff["name"].str.len().between(2, 3).all()


def test_every_facility_type_in_seed_numbers(demo: DemoDistrict) -> None:
    f = demo.facilities
    counts = f["type_code"].value_counts()
    assert set(counts.index) == {spec.code for spec in CATALOGUE}
    n = len(demo.communities)
    missing = demo.notes.communities_without_health_station
    assert 3 <= len(missing) <= 5
    health = f.loc[f["type_code"] == "community_health_station", "community_code"]
    assert set(demo.communities["code"]) - set(health) == set(missing)
    assert counts["community_service_centre"] == counts["mediation_station"] == n
    assert counts["volunteer_station"] == 13 and counts["gov_service_point"] == 11
    assert 10 <= counts["elderly_day_care"] <= 20
    assert 25 <= counts["kindergarten"] <= 40
    gov = f[f["type_code"] == "gov_service_point"]
    assert (gov["opening_hours"] == "07:00-24:00").all()
    centres = f[f["type_code"] == "community_service_centre"].merge(
        demo.communities[["code", "households"]], left_on="community_code", right_on="code"
    )
    below = centres["floor_area_m2"] < 0.6 * centres["households"]
    assert 0 < below.sum() < len(centres)
    social = f.loc[f["type_code"] == "social_work_station", "floor_area_m2"]
    assert 0 < (social < 50).sum() < len(social)
    own = demo.communities.set_index("code").geometry.loc[f["community_code"]].to_numpy()
    assert shapely.covers(own, f.geometry.to_numpy()).all()


def test_a_year_of_clustered_incidents(demo: DemoDistrict) -> None:
    inc = demo.incidents
    assert 3000 <= len(inc) <= 5000
    assert 650 <= (inc["category"] == "dispute").sum() <= 870
    assert inc["reported_at"].min() >= pd.Timestamp("2025-11-01", tz="Asia/Shanghai")
    assert inc["reported_at"].max() < pd.Timestamp("2026-11-01", tz="Asia/Shanghai")
    assert inc["grid_code"].notna().all()
    own = demo.grids.set_index("code").geometry.loc[inc["grid_code"]].to_numpy()
    assert shapely.covers(own, inc.geometry.to_numpy()).all()
    # Statuses as generated before the histories; a share of the closed ones is evaluated.
    assert len(inc) == 4027
    assert inc["status"].isin(["closed", "evaluated"]).mean() > 0.85
    assert 0.3 < (inc["status"] == "evaluated").mean() < 0.45
    assert set(inc["source"]) == {"patrol", "hotline", "app", "visit", "video"}
    per_grid = inc.groupby("grid_code").size().reindex(demo.grids["code"], fill_value=0)
    top = per_grid.sort_values(ascending=False).head(len(per_grid) // 20)
    assert top.sum() > 0.2 * len(inc)  # hot spots: 5 % of grids, over 20 % of incidents


def _identical(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Same columns and values, geometries equal to the last bit (compared as WKB)."""
    geometry = [c for c in a.columns if isinstance(a[c], gpd.GeoSeries)]
    return a.drop(columns=geometry).equals(b.drop(columns=geometry)) and all(
        shapely.to_wkb(a[c].to_numpy()).tolist() == shapely.to_wkb(b[c].to_numpy()).tolist()
        for c in geometry
    )


def test_the_same_seed_gives_the_same_district_and_another_seed_another(
    inputs: tuple[BaseGeometry, pd.DataFrame],
) -> None:
    """On two real subdistricts at a tenth of the households, to keep the suite fast."""
    boundary, divisions = inputs
    two = divisions[
        divisions["code"].eq("370705") | divisions["code"].str.match(r"^370705(001|002)")
    ]
    first = generate_demo(boundary, two, households=8_000)
    again = generate_demo(boundary, two, households=8_000)
    assert len(first.subdistricts) == 2 and len(first.grids) >= 19
    for layer in (
        "district",
        "subdistricts",
        "communities",
        "grids",
        "buildings",
        "facilities",
        "incidents",
        "incident_transitions",
        "staff",
        "staff_grids",
    ):
        assert _identical(getattr(first, layer), getattr(again, layer)), layer
    assert first.notes == again.notes
    other = generate_demo(boundary, two, seed=1, households=8_000)
    assert not _identical(first.subdistricts, other.subdistricts)
    assert first.grids["households"].tolist() != other.grids["households"].tolist()


def test_villages_become_communities_where_a_subdistrict_has_no_other(
    inputs: tuple[BaseGeometry, pd.DataFrame],
) -> None:
    divisions = pd.DataFrame(
        [
            ("370705", "奎文区", "district", ""),
            ("370705001", "东关街道办事处", "subdistrict", "370705"),
            ("370705001001", "中学街社区居民委员会", "community", "370705001"),
            ("370705001002", "工福街居委会", "community", "370705001"),
            ("370705001201", "邢石村村委会", "village", "370705001"),
            ("370705002", "大虞街道", "subdistrict", "370705"),
            ("370705002201", "友谊村村委会", "village", "370705002"),
            ("370705002202", "三娘庙村民委员会", "village", "370705002"),
        ],
        columns=["code", "name", "level", "parent_code"],
    )
    demo = generate_demo(inputs[0], divisions, households=2_000)
    assert demo.communities["name"].tolist() == ["中学街社区", "工福街社区", "友谊村", "三娘庙村"]
    assert demo.notes.villages_as_communities == ("370705002201", "370705002202")
    assert demo.notes.villages_folded == 1
    assert demo.grids["households"].between(200, 300).all()
    assert set(demo.facilities["type_code"]) == {spec.code for spec in CATALOGUE}


def test_every_history_replays_through_the_workflow(demo: DemoDistrict) -> None:
    """Each case's transitions are legal steps of the workflow and end where the row says."""
    inc = demo.incidents.set_index("ext_id")
    steps = demo.incident_transitions
    assert steps["incident_ext_id"].isin(inc.index).all()
    for ext_id, rows in steps.groupby("incident_ext_id", sort=False):
        intake, *rest = rows.itertuples(index=False)
        assert (intake.action, intake.to_state, intake.to_level) == ("reported", "reported", "grid")
        assert pd.isna(intake.from_state) and pd.isna(intake.from_level)
        case = CaseFlow()
        for t in rest:
            case = apply(
                case,
                t.action,
                actor=t.actor,
                at=t.at.to_pydatetime(),
                note=t.note if isinstance(t.note, str) else "",
            )
            last = case.history[-1]
            assert (last.from_state, last.to_state) == (t.from_state, t.to_state), ext_id
            assert (last.from_level, last.to_level) == (t.from_level, t.to_level), ext_id
        row = inc.loc[ext_id]
        assert case.state == row["status"], ext_id
        assert case.level == row["handling_level"], ext_id
        assert case.rework_count == row["rework_count"], ext_id
        assert row["version"] == len(rest) + 1, ext_id
        assert rows["at"].iloc[0] == row["reported_at"]
        assert rows["at"].max() < DEMO_AS_OF, ext_id


def test_deadlines_escalations_and_handlers_follow_the_live_rules(demo: DemoDistrict) -> None:
    inc = demo.incidents
    steps = demo.incident_transitions
    clocked = inc[inc["clock_started_at"].notna()]
    handled = inc["status"].isin(["dispatched", "closed", "evaluated"])
    assert len(clocked) == (handled & ~inc["on_the_spot"]).sum()  # settled: no clock ran
    for cat, start, deadline in zip(
        clocked["category"], clocked["clock_started_at"], clocked["deadline_at"], strict=True
    ):
        assert deadline == deadline_after(cat, start.to_pydatetime()), (cat, start)
    # The clock starts at the last dispatch (or hand-over) or rework; a case closes at its
    # verification.
    restart = steps[steps["action"].isin(["dispatch", "hand_over", "rework"])].groupby(
        "incident_ext_id"
    )
    by_ext = inc.set_index("ext_id")
    assert (restart["at"].max() == by_ext.loc[restart["at"].max().index, "clock_started_at"]).all()
    verified = steps[steps["action"] == "verify"].set_index("incident_ext_id")["at"]
    assert (verified == by_ext.loc[verified.index, "closed_at"]).all()
    assert by_ext["closed_at"].notna().sum() == len(verified)
    # Escalations: by the system, at the job's first tick after a deadline, one level up.
    esc = steps[steps["action"] == "escalate"]
    assert (esc["actor"] == "system").all() and len(esc) > 100
    assert (esc["at"].dt.minute % 10 == 0).all() and (esc["at"].dt.second == 0).all()
    assert (
        esc["note"]
        .str.fullmatch(r"超过处置时限（\d{4}-\d\d-\d\d \d\d:\d\d），系统自动上报升级")
        .all()
    )
    order = list(Level)
    assert all(
        order.index(Level(b)) < order.index(Level(a))
        for b, a in zip(esc["from_level"], esc["to_level"], strict=True)
    )
    escalated = inc["handling_level"] != "grid"
    assert inc.loc[escalated, "handler_staff_key"].isna().all()
    assert inc.loc[~escalated, "handler_staff_key"].notna().all()
    primary = demo.staff_grids[demo.staff_grids["is_primary"]].groupby("grid_code")["staff_key"]
    first = primary.min()
    # At grid level: the grid's manager, or for a dispute handed over the unit's head.
    grid_level = inc[~escalated & inc["unit_key"].isna()]
    assert (
        grid_level["handler_staff_key"].to_numpy() == first.loc[grid_level["grid_code"]].to_numpy()
    ).all()
    units = demo.mediation_units.set_index("unit_key")
    handed = inc[inc["unit_key"].notna()]
    assert len(handed) > 30 and (handed["category"] == "dispute").all()
    assert (
        handed["handler_staff_key"].to_numpy()
        == units.loc[handed["unit_key"], "head_staff_key"].to_numpy()
    ).all()
    # Rework 5-8 % of closed cases; evaluated ones were closed first.
    closed = inc["status"].isin(["closed", "evaluated"])
    assert 0.05 < (inc.loc[closed, "rework_count"] > 0).mean() < 0.08
    assert (inc.loc[~closed, "rework_count"] == 0).all()
    # Accepting happens in office hours, except emergencies and the last weekend's duty.
    accept = steps[steps["action"] == "accept"].merge(
        inc[["ext_id", "category"]], left_on="incident_ext_id", right_on="ext_id"
    )
    office = accept[accept["category"] != "emergency"]["at"]
    calendar = default_calendar()
    in_hours = [calendar.is_working_time(t.to_pydatetime()) for t in office]
    assert 0.99 < np.mean(in_hours) < 1  # the rest: the last weekend's duty officers


def test_disputes_are_handed_to_unit_heads_and_many_settled_on_the_spot(
    demo: DemoDistrict,
) -> None:
    """Seed 003's mediation in the demo: a unit per community headed by its mediator, some
    disputes handed over (交办), most closed ones settled on the spot (当场办结)."""
    units, inc, steps = demo.mediation_units, demo.incidents, demo.incident_transitions
    mediators = demo.staff[demo.staff["role"] == "mediator"]
    assert len(units) == mediators["community_code"].nunique()
    assert set(units["head_staff_key"]) <= set(mediators["staff_key"])
    disputes = inc[inc["category"] == "dispute"]
    closed = disputes[disputes["status"].isin(["closed", "evaluated"])]
    assert 0.4 < closed["on_the_spot"].mean() < 0.85  # Kaifu: 84.82 % of those it handled
    assert not inc.loc[inc["category"] != "dispute", "on_the_spot"].any()
    settled = steps[steps["action"] == "settle"]
    assert set(settled["incident_ext_id"]) == set(inc.loc[inc["on_the_spot"], "ext_id"])
    spot_steps = steps[steps["incident_ext_id"].isin(settled["incident_ext_id"])]
    assert not spot_steps["action"].isin(["accept", "dispatch", "handle"]).any()
    hand = steps[steps["action"] == "hand_over"]
    heads = units.set_index("unit_key")["head_name"]
    assert (hand["unit_head"].to_numpy() == heads.loc[hand["unit_key"]].to_numpy()).all()
    assert set(hand["incident_ext_id"]) >= set(inc.loc[inc["unit_key"].notna(), "ext_id"])
