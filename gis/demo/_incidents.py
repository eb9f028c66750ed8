"""A year of demo incidents: GB/T 30428.2 event classes and social-governance cases.

Clustered around hot-spot grids and shaped by the hour and the season, so that
statistics and heat maps have a pattern to show.
"""

from __future__ import annotations

import datetime as dt
import math

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.demo.spec import (
    DEMO_AS_OF,
    INCIDENT_END,
    INCIDENT_START,
    METRIC_CRS,
)
from gis.localtime import CITY_TZ

#: category: yearly mean count, share reported near a hot spot, seasonal swing (peak in summer)
_VOLUMES: dict[str, tuple[int, float, float]] = {
    "city_appearance": (1100, 0.45, 0.35),
    "advertising": (350, 0.5, 0.1),
    "construction": (250, 0.2, 0.35),
    "street_order": (800, 0.55, 0.35),
    "emergency": (40, 0.1, 0.1),
    "dispute": (760, 0.3, 0.1),
    "petition": (120, 0.3, 0.1),
    "safety_hazard": (350, 0.25, 0.1),
    "help_request": (230, 0.1, 0.1),
}
#: category: who reports it, with weights
_SOURCES: dict[str, dict[str, float]] = {
    "city_appearance": {"patrol": 0.45, "video": 0.25, "hotline": 0.15, "app": 0.15},
    "advertising": {"patrol": 0.6, "video": 0.15, "hotline": 0.1, "app": 0.15},
    "construction": {"patrol": 0.4, "hotline": 0.35, "app": 0.15, "video": 0.1},
    "street_order": {"patrol": 0.45, "video": 0.25, "hotline": 0.15, "app": 0.15},
    "emergency": {"hotline": 0.6, "video": 0.2, "patrol": 0.2},
    "dispute": {"visit": 0.4, "hotline": 0.3, "patrol": 0.2, "app": 0.1},
    "petition": {"visit": 0.7, "hotline": 0.3},
    "safety_hazard": {"patrol": 0.55, "app": 0.2, "hotline": 0.15, "video": 0.1},
    "help_request": {"hotline": 0.5, "app": 0.3, "visit": 0.2},
}
#: category: the subclasses its reports name
_SUBCLASSES: dict[str, tuple[str, ...]] = {
    "city_appearance": ("暴露垃圾", "道路不洁", "乱堆物堆料", "绿地脏乱", "垃圾满溢"),
    "advertising": ("非法小广告", "违规户外广告", "占道广告牌"),
    "construction": ("施工扰民", "施工废弃料", "道路破损未修复", "工地扬尘"),
    "street_order": ("占道经营", "无照游商", "店外经营", "机动车乱停放", "非机动车乱停放"),
    "emergency": ("路面塌陷", "供水管道破裂", "燃气泄漏", "火情"),
    "dispute": ("邻里纠纷", "婚姻家庭纠纷", "物业纠纷", "劳资纠纷", "土地征收纠纷", "旧村改造纠纷"),
    "petition": ("拆迁补偿信访", "物业管理信访", "社保待遇信访"),
    "safety_hazard": ("消防通道堵塞", "电动车楼道充电", "燃气使用隐患", "高空坠物隐患"),
    "help_request": ("独居老人求助", "残疾人求助", "困难家庭求助"),
}
_HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 2, 4, 8, 12, 13, 13, 12, 9, 10, 12, 12, 11, 10, 9, 8, 6, 4, 2, 1], dtype=float
)


def make_incidents(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    district: BaseGeometry,
    district_name: str,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """A year of incidents (metric CRS), clustered around a dozen hot-spot grids."""
    dense = grids.assign(density=grids["households"] / grids.geometry.area).sort_values(
        ["density", "code"], ascending=[False, True]
    )
    candidates = dense.head(max(12, len(dense) // 4))
    hot = rng.choice(len(candidates), min(12, len(candidates)), replace=False)
    hot_centres = shapely.get_coordinates(candidates.geometry.iloc[hot].representative_point())
    hot_names = candidates["name"].to_numpy()[hot]
    bxy = shapely.get_coordinates(buildings.geometry.to_numpy())
    bw = buildings["households"].to_numpy(dtype=float)
    bw /= bw.sum()
    addresses = buildings["address"].to_numpy()
    shapely.prepare(district)
    days = (INCIDENT_END - INCIDENT_START).days + 1
    rows: list[dict[str, object]] = []
    for category, (mean, hot_share, swing) in _VOLUMES.items():
        sources, subclasses = _SOURCES[category], _SUBCLASSES[category]
        n = int(rng.poisson(mean))
        day = np.arange(days)
        season = 1 + swing * np.sin(2 * math.pi * (day - 150) / 365)
        chosen_days = rng.choice(days, n, p=season / season.sum())
        hours = rng.choice(24, n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
        minutes = rng.integers(0, 60 * 60, n)
        at_hot = rng.random(n) < hot_share
        src_names = list(sources)
        src_p = np.array(list(sources.values()))
        src = rng.choice(len(src_names), n, p=src_p / src_p.sum())
        sub = rng.integers(0, len(subclasses), n)
        hot_pick = rng.integers(0, len(hot_centres), n)
        hot_xy = hot_centres[hot_pick]
        near = rng.choice(len(bxy), n, p=bw)
        noise = rng.normal(0.0, 1.0, (n, 2))
        xy = np.where(at_hot[:, None], hot_xy + 120.0 * noise, bxy[near] + 25.0 * noise)
        outside = ~shapely.contains_xy(district, xy[:, 0], xy[:, 1])
        xy[outside] = bxy[near[outside]]
        for i in range(n):
            if at_hot[i] and not outside[i]:
                where = f"{district_name}{hot_names[hot_pick[i]]}一带"
            else:
                where = f"{addresses[near[i]]}附近"
            reported = dt.datetime.combine(
                INCIDENT_START + dt.timedelta(days=int(chosen_days[i])),
                dt.time(int(hours[i])),
                CITY_TZ,
            ) + dt.timedelta(seconds=int(minutes[i]))
            rows.append(
                {
                    "category": category,
                    "reported_at": reported,
                    "source": src_names[src[i]],
                    "description": f"{subclasses[sub[i]]}：{where}",
                    "geometry": shapely.Point(xy[i]),
                }
            )
    df = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    df = df.sort_values(["reported_at", "category"], kind="stable").reset_index(drop=True)
    age_days = np.array([(DEMO_AS_OF - t).total_seconds() / 86400 for t in df["reported_at"]])
    roll = rng.random(len(df))
    status = np.where(roll < 0.02, "cancelled", "closed").astype(object)
    recent = age_days < 14
    # Workflow states (gis.incidents.workflow): "dispatched" = with the handler, clock running.
    open_status = rng.choice(["reported", "accepted", "dispatched"], len(df), p=[0.3, 0.3, 0.4])
    status[recent & (roll > 0.4)] = open_status[recent & (roll > 0.4)]
    stale = (~recent) & (roll > 0.985)  # a few cases stuck in handling
    status[stale] = "dispatched"
    df["status"] = status
    df.insert(0, "ext_id", [f"DEMO-I-{i + 1:06d}" for i in range(len(df))])
    return df
