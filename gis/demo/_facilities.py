"""Facilities of every catalogue type, in the numbers the seeds report.

A few communities fall short on purpose (no health station, rooms below the
norm), so that the coverage report has gaps to find.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
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
    rows: list[dict[str, object]] = []
    footprints = shapely.STRtree(buildings["footprint"].to_numpy())
    by_comm = {code: df for code, df in buildings.groupby("community_code", sort=True)}
    comm_geom = dict(zip(communities["code"], communities.geometry, strict=True))
    comm_label = {
        r.code: f"{district_name}{r.subdistrict_name}{r.name}" for r in communities.itertuples()
    }

    def in_building(code: str, kinds: tuple[str, ...] | None = None) -> tuple[BaseGeometry, str]:
        b = by_comm[code]
        if kinds is not None and b["kind"].isin(kinds).any():
            b = b[b["kind"].isin(kinds)]
        w = b["households"].to_numpy(dtype=float) + 1
        i = rng.choice(len(b), p=w / w.sum())
        return b.geometry.iloc[i], str(b["address"].iloc[i])

    def own_site(code: str) -> tuple[BaseGeometry, str]:
        inner = comm_geom[code].buffer(-30)
        if not inner.is_empty:
            minx, miny, maxx, maxy = inner.bounds
            xs, ys = rng.uniform(minx, maxx, 300), rng.uniform(miny, maxy, 300)
            pts = shapely.points(xs, ys)
            ok = shapely.contains(inner, pts)
            near = footprints.query(pts[ok], predicate="dwithin", distance=15.0)
            free = np.setdiff1d(np.arange(ok.sum()), near[0])
            if free.size:
                return pts[ok][free[0]], comm_label[code]
        return in_building(code)

    def add(
        type_code: str, name: str, code: str, site: tuple[BaseGeometry, str], **extra: object
    ) -> None:
        rows.append(
            {
                "type_code": type_code,
                "name": name,
                "community_code": code,
                "address": site[1],
                "capacity": extra.get("capacity"),
                "floor_area_m2": extra.get("floor_area_m2"),
                "opening_hours": extra.get("opening_hours"),
                "geometry": site[0],
            }
        )

    codes = communities["code"].tolist()
    names = dict(zip(communities["code"], communities["name"], strict=True))
    households = dict(zip(communities["code"], communities["households"], strict=True))
    total = int(communities["households"].sum())
    n_missing = min(len(codes) - 1, int(rng.integers(3, 6)))
    no_health = tuple(sorted(rng.choice(codes, n_missing, replace=False).tolist()))

    for code in codes:
        name, hh = names[code], int(households[code])
        centre = in_building(code)
        norm = 0.6 * hh  # 60 m² per 100 households (seed 002)
        add(
            "community_service_centre",
            f"{name}党群服务中心",
            code,
            centre,
            floor_area_m2=round(norm * float(rng.uniform(0.65, 1.5)), 1),
            opening_hours="08:30-17:30",
        )
        if code not in no_health:
            add(
                "community_health_station",
                f"{name}卫生服务站",
                code,
                in_building(code),
                floor_area_m2=round(float(rng.uniform(150, 400)), 1),
                opening_hours="08:00-17:30",
            )
        same = rng.random(3) < 0.6  # rooms often share the service centre's building
        add(
            "mediation_station",
            f"{name}人民调解委员会调解室",
            code,
            centre if same[0] else in_building(code),
            floor_area_m2=round(float(rng.uniform(20, 60)), 1),
        )
        if rng.random() < 0.9:
            add(
                "culture_room",
                f"{name}文化活动室",
                code,
                centre if same[1] else in_building(code),
                floor_area_m2=round(float(rng.uniform(80, 300)), 1),
            )
        add(
            "social_work_station",
            f"{name}社工服务站",
            code,
            centre if same[2] else in_building(code),
            floor_area_m2=round(float(rng.uniform(30, 120)), 1),
        )

    weights = np.array([households[c] for c in codes], dtype=float)
    kindergartens = max(1, round(total / HOUSEHOLDS_PER_KINDERGARTEN))
    seen: set[str] = set()
    for i, code in enumerate(rng.choice(codes, kindergartens, p=weights / weights.sum())):
        add(
            "kindergarten",
            f"{district_name}{names[code].removesuffix('社区')}幼儿园"
            + ("分园" if code in seen else "")
            + ("" if i % 3 else "（普惠性）"),
            code,
            own_site(code),
            capacity=int(rng.choice([6, 9, 12])) * 30,
        )
        seen.add(code)
    schools = min(len(codes), max(1, round(total / HOUSEHOLDS_PER_SCHOOL)))
    for code in rng.choice(codes, schools, replace=False, p=weights / weights.sum()):
        add(
            "primary_school",
            f"{district_name}{names[code].removesuffix('社区')}小学",
            code,
            own_site(code),
            capacity=int(rng.choice([24, 30, 36])) * 45,
        )
    for _, sub in communities.groupby("subdistrict_code", sort=True):
        sub_name = str(sub["subdistrict_name"].iloc[0])
        w = sub["households"].to_numpy(dtype=float)
        for j, code in enumerate(
            rng.choice(
                sub["code"].to_numpy(),
                min(len(sub), int(rng.integers(1, 3))),
                replace=False,
                p=w / w.sum(),
            )
        ):
            add(
                "elderly_day_care",
                f"{sub_name}老年人日间照料中心{'' if j == 0 else '（分中心）'}",
                str(code),
                own_site(str(code)),
                capacity=int(rng.integers(20, 61)),
                floor_area_m2=round(float(rng.uniform(300, 750)), 1),
                opening_hours="08:00-18:00",
            )
    for i, code in enumerate(
        rng.choice(
            codes, min(VOLUNTEER_STATIONS, len(codes)), replace=False, p=weights / weights.sum()
        )
    ):
        add(
            "volunteer_station",
            f"{names[code]}志愿服务U站（{i + 1}号）",
            str(code),
            in_building(str(code)),
            floor_area_m2=round(float(rng.uniform(15, 40)), 1),
        )
    estates = [c for c in codes if (by_comm[c]["kind"] == "high_rise").any()] or codes
    w = np.array([households[c] for c in estates], dtype=float)
    for code in rng.choice(
        estates, min(GOV_SERVICE_POINTS, len(estates)), replace=False, p=w / w.sum()
    ):
        site = in_building(str(code), ("high_rise",))
        add(
            "gov_service_point",
            f"{names[code]}物业服务中心政务代办点",
            str(code),
            site,
            floor_area_m2=round(float(rng.uniform(15, 40)), 1),
            opening_hours="07:00-24:00",
        )
    missing = {spec.code for spec in CATALOGUE} - {str(r["type_code"]) for r in rows}
    if missing:
        raise RuntimeError(f"demo facilities lack catalogue types {sorted(missing)}")
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    frame["capacity"] = frame["capacity"].astype("Int64")
    return frame, no_health
