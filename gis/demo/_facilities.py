"""Facilities of every catalogue type, in the numbers the seeds report.

A few communities fall short on purpose (no health station, rooms below the
norm), so that the coverage report has gaps to find.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.coverage.catalogue import CATALOGUE
from gis.demo.spec import (
    GOV_SERVICE_POINTS,
    HOUSEHOLDS_PER_KINDERGARTEN,
    HOUSEHOLDS_PER_SCHOOL,
    METRIC_CRS,
    VOLUNTEER_STATIONS,
)

#: A facility's place: its point and its address.
Site = tuple[BaseGeometry, str]
Row = dict[str, object]

#: Rooms that often share the service centre's building: type, name after the community's,
#: floor area range (m²), share of communities that have one.
_ROOMS = (
    ("mediation_station", "人民调解委员会调解室", (20.0, 60.0), 1.0),
    ("culture_room", "文化活动室", (80.0, 300.0), 0.9),
    ("social_work_station", "社工服务站", (30.0, 120.0), 1.0),
)


def make_facilities(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    district_name: str,
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, tuple[str, ...]]:
    """Facilities of every catalogue type (metric CRS); communities left without a health station.

    Service rooms sit in a residential building's ground floor (the building's
    address); kindergartens, schools and day-care centres get a site of their own.
    """
    place = _Places(communities, buildings, district_name, rng)
    codes = communities["code"].tolist()
    n_missing = min(len(codes) - 1, int(rng.integers(3, 6)))
    no_health = tuple(sorted(rng.choice(codes, n_missing, replace=False).tolist()))
    rows = [row for code in codes for row in _community_rooms(place, code, code not in no_health)]
    rows += _schools(place, codes, int(communities["households"].sum()))
    rows += _day_care(place, communities)
    rows += _stations(place, codes)
    missing = {spec.code for spec in CATALOGUE} - {str(r["type_code"]) for r in rows}
    if missing:
        raise RuntimeError(f"demo facilities lack catalogue types {sorted(missing)}")
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    frame["capacity"] = frame["capacity"].astype("Int64")
    return frame, no_health


class _Places:
    """Where a facility of a community can go, drawn from the demo's random stream."""

    def __init__(
        self,
        communities: gpd.GeoDataFrame,
        buildings: gpd.GeoDataFrame,
        district_name: str,
        rng: np.random.Generator,
    ) -> None:
        self.rng = rng
        self.footprints = shapely.STRtree(buildings["footprint"].to_numpy())
        self.buildings: dict[str, pd.DataFrame] = {
            code: df for code, df in buildings.groupby("community_code", sort=True)
        }
        self.geom = dict(zip(communities["code"], communities.geometry, strict=True))
        self.names = dict(zip(communities["code"], communities["name"], strict=True))
        self.households = dict(zip(communities["code"], communities["households"], strict=True))
        self.district_name = district_name
        self.label = {
            r.code: f"{district_name}{r.subdistrict_name}{r.name}" for r in communities.itertuples()
        }

    def in_building(self, code: str, kinds: tuple[str, ...] | None = None) -> Site:
        """A ground floor in one of the community's buildings, larger ones more likely."""
        b = self.buildings[code]
        if kinds is not None and b["kind"].isin(kinds).any():
            b = b[b["kind"].isin(kinds)]
        w = b["households"].to_numpy(dtype=float) + 1
        i = self.rng.choice(len(b), p=w / w.sum())
        return b.geometry.iloc[i], str(b["address"].iloc[i])

    def own_site(self, code: str) -> Site:
        """A free spot 30 m inside the community, 15 m from any building; else a ground floor."""
        inner = self.geom[code].buffer(-30)
        if not inner.is_empty:
            minx, miny, maxx, maxy = inner.bounds
            xs, ys = self.rng.uniform(minx, maxx, 300), self.rng.uniform(miny, maxy, 300)
            pts = shapely.points(xs, ys)
            ok = shapely.contains(inner, pts)
            near = self.footprints.query(pts[ok], predicate="dwithin", distance=15.0)
            free = np.setdiff1d(np.arange(ok.sum()), near[0])
            if free.size:
                return pts[ok][free[0]], self.label[code]
        return self.in_building(code)

    def pick(self, codes: Sequence[str], n: int, replace: bool = False) -> list[str]:
        """``n`` of ``codes``, communities with more households more likely."""
        w = np.array([self.households[c] for c in codes], dtype=float)
        size = n if replace else min(n, len(codes))
        return [str(c) for c in self.rng.choice(codes, size, replace=replace, p=w / w.sum())]

    def area(self, low: float, high: float) -> float:
        """A floor area (m², one decimal) between ``low`` and ``high``."""
        return round(float(self.rng.uniform(low, high)), 1)


def _row(
    type_code: str,
    name: str,
    code: str,
    site: Site,
    capacity: int | None = None,
    floor_area_m2: float | None = None,
    opening_hours: str | None = None,
) -> Row:
    return {
        "type_code": type_code,
        "name": name,
        "community_code": code,
        "address": site[1],
        "capacity": capacity,
        "floor_area_m2": floor_area_m2,
        "opening_hours": opening_hours,
        "geometry": site[0],
    }


def _community_rooms(place: _Places, code: str, health_station: bool) -> list[Row]:
    """A community's service centre (around 60 m² per 100 households, seed 002) and rooms."""
    rng, name = place.rng, place.names[code]
    centre = place.in_building(code)
    norm = 0.6 * int(place.households[code])
    area = round(norm * float(rng.uniform(0.65, 1.5)), 1)
    rows = [
        _row(
            "community_service_centre",
            f"{name}党群服务中心",
            code,
            centre,
            floor_area_m2=area,
            opening_hours="08:30-17:30",
        )
    ]
    if health_station:
        site = place.in_building(code)
        area = place.area(150, 400)
        rows.append(
            _row(
                "community_health_station",
                f"{name}卫生服务站",
                code,
                site,
                floor_area_m2=area,
                opening_hours="08:00-17:30",
            )
        )
    shared = rng.random(len(_ROOMS)) < 0.6
    for same, (type_code, room, (low, high), share) in zip(shared, _ROOMS, strict=True):
        if share < 1.0 and rng.random() >= share:
            continue
        site = centre if same else place.in_building(code)
        rows.append(
            _row(type_code, f"{name}{room}", code, site, floor_area_m2=place.area(low, high))
        )
    return rows


def _schools(place: _Places, codes: list[str], households: int) -> list[Row]:
    """A kindergarten per ~3,000 households (some branches), a primary school per ~6,000."""
    rng, district = place.rng, place.district_name
    rows: list[Row] = []
    seen: set[str] = set()
    kindergartens = max(1, round(households / HOUSEHOLDS_PER_KINDERGARTEN))
    for i, code in enumerate(place.pick(codes, kindergartens, replace=True)):
        name = (
            f"{district}{place.names[code].removesuffix('社区')}幼儿园"
            + ("分园" if code in seen else "")
            + ("" if i % 3 else "（普惠性）")
        )
        site = place.own_site(code)
        capacity = int(rng.choice([6, 9, 12])) * 30
        rows.append(_row("kindergarten", name, code, site, capacity=capacity))
        seen.add(code)
    for code in place.pick(codes, max(1, round(households / HOUSEHOLDS_PER_SCHOOL))):
        name = f"{district}{place.names[code].removesuffix('社区')}小学"
        site = place.own_site(code)
        capacity = int(rng.choice([24, 30, 36])) * 45
        rows.append(_row("primary_school", name, code, site, capacity=capacity))
    return rows


def _day_care(place: _Places, communities: gpd.GeoDataFrame) -> list[Row]:
    """One or two elderly day-care centres per subdistrict."""
    rows: list[Row] = []
    for _, sub in communities.groupby("subdistrict_code", sort=True):
        sub_name = str(sub["subdistrict_name"].iloc[0])
        chosen = place.pick(sub["code"].tolist(), int(place.rng.integers(1, 3)))
        for j, code in enumerate(chosen):
            name = f"{sub_name}老年人日间照料中心{'' if j == 0 else '（分中心）'}"
            site = place.own_site(code)
            capacity = int(place.rng.integers(20, 61))
            area = place.area(300, 750)
            rows.append(
                _row(
                    "elderly_day_care",
                    name,
                    code,
                    site,
                    capacity=capacity,
                    floor_area_m2=area,
                    opening_hours="08:00-18:00",
                )
            )
    return rows


def _stations(place: _Places, codes: list[str]) -> list[Row]:
    """Volunteer U-stations, and government-service points in high-rise estates (seed 000)."""
    rows: list[Row] = []
    for i, code in enumerate(place.pick(codes, VOLUNTEER_STATIONS)):
        name = f"{place.names[code]}志愿服务U站（{i + 1}号）"
        site = place.in_building(code)
        rows.append(_row("volunteer_station", name, code, site, floor_area_m2=place.area(15, 40)))
    estates = [c for c in codes if (place.buildings[c]["kind"] == "high_rise").any()] or codes
    for code in place.pick(estates, GOV_SERVICE_POINTS):
        name = f"{place.names[code]}物业服务中心政务代办点"
        site = place.in_building(code, ("high_rise",))
        area = place.area(15, 40)
        rows.append(
            _row(
                "gov_service_point",
                name,
                code,
                site,
                floor_area_m2=area,
                opening_hours="07:00-24:00",
            )
        )
    return rows
