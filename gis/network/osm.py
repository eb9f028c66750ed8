"""A walking network and its barriers from an OpenStreetMap PBF file (pyrosm).

Edges are pyrosm's walking network (``get_network("walking", nodes=True)``):
OSM ways split at every junction, with OSM's own node ids as ``source`` and
``target`` (a footway in a tunnel under a junction keeps its own nodes).
Tags decide the rest:

- ``access=no|private`` without ``foot=yes|designated|permissive``, and
  ``foot=no``: not walkable, left out;
- one-way for walkers: ``oneway:foot`` where tagged, else ``oneway`` only on
  ways made for walking (footway, path, steps, pedestrian, corridor): a
  one-way street binds cars, not the people on its pavement;
- ``kind``: ``bridge``, ``tunnel`` (``tunnel=*``, ``covered``), ``steps``,
  ``footway`` (footway, pedestrian, corridor), ``crossing``
  (``footway=crossing``), ``path`` (path, track, cycleway, bridleway, trail),
  else ``street``.

Barriers: ``waterway=river|canal`` and ``railway=rail`` (not in a tunnel nor
on a bridge), ``barrier=wall|fence``; a closed wall or fence (which pyrosm
reads as a polygon) is kept as its ring, a line walkers cannot cross, not as
an area nobody may enter.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import ImportFileError

WALKING_HIGHWAYS = ("footway", "path", "steps", "pedestrian", "corridor")
"""Ways made for walking: their ``oneway`` binds walkers too."""
_KINDS = {
    "footway": "footway",
    "pedestrian": "footway",
    "corridor": "footway",
    "living_street": "street",
    "steps": "steps",
    "path": "path",
    "track": "path",
    "cycleway": "path",
    "bridleway": "path",
    "trail": "path",
}
_BARRIERS = {
    "waterway": ("river", "canal"),
    "railway": ("rail",),
    "barrier": ("wall", "fence"),
}
_YES = {"yes", "true", "1"}


def _tags(value: Any) -> dict[str, Any]:
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), "").astype(str).str.lower()


def read_osm(path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """(edges, barriers, notes) of an OSM PBF file, in EPSG:4326, as ``replace_network``
    takes them. Raises ``ImportFileError`` for a file pyrosm cannot read or one without
    walkable ways."""
    import pyrosm  # imported here: only this import needs it, and it is slow to import

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            osm = pyrosm.OSM(str(path))
            got = osm.get_network(network_type="walking", nodes=True)
            raw_barriers = osm.get_data_by_custom_criteria(
                custom_filter={k: list(v) for k, v in _BARRIERS.items()},
                filter_type="keep",
                keep_nodes=False,
                keep_ways=True,
                keep_relations=False,
            )
    except Exception as exc:  # pyrosm raises plain exceptions of many kinds
        raise ImportFileError(
            f"{path.name}: cannot be read as an OpenStreetMap PBF file ({exc}); download "
            "the extract again",
            zh=f"{path.name}：无法作为 OpenStreetMap PBF 文件读取（{exc}）；请重新下载该数据",
        ) from exc
    if got is None or got[1] is None or len(got[1]) == 0:
        raise ImportFileError(
            f"{path.name}: holds no walkable ways (highway=*)",
            zh=f"{path.name}：没有可步行的道路 (highway=*)",
        )
    _, ways = got
    notes: list[str] = []
    edges = _edges(ways, notes)
    barriers = _barriers(raw_barriers)
    return edges, barriers, notes


def _edges(ways: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    ways = ways[ways.geometry.geom_type == "LineString"].reset_index(drop=True)
    tags = [_tags(t) for t in (ways["tags"] if "tags" in ways.columns else [None] * len(ways))]
    highway = _text(ways, "highway")
    access = _text(ways, "access")
    foot = _text(ways, "foot")
    allowed = foot.isin(["yes", "designated", "permissive"])
    closed = (access.isin(["no", "private"]) & ~allowed) | (foot == "no")
    oneway_foot = pd.Series(
        [str(t.get("oneway:foot", "")).lower() for t in tags], index=ways.index, dtype=object
    )
    oneway = _text(ways, "oneway").where(highway.isin(WALKING_HIGHWAYS), "")
    oneway = oneway_foot.where(oneway_foot != "", oneway)
    forward = ~(oneway == "-1")
    backward = ~oneway.isin(["yes", "true", "1"])
    kind = highway.map(_KINDS).fillna("street").astype(object)
    footway = _text(ways, "footway")
    kind[footway == "crossing"] = "crossing"
    tunnel = _text(ways, "tunnel")
    covered = pd.Series([str(t.get("covered", "")).lower() in _YES for t in tags], index=ways.index)
    kind[(tunnel != "") & (tunnel != "no") | covered] = "tunnel"
    bridge = _text(ways, "bridge")
    kind[(bridge != "") & (bridge != "no")] = "bridge"
    names = (
        ways["name"].astype(object).where(ways["name"].notna(), None) if "name" in ways else None
    )
    keep = ~closed.to_numpy()
    if (~keep).any():
        notes.append(f"left out {int((~keep).sum())} ways closed to walkers (access/foot tags)")
    frame = gpd.GeoDataFrame(
        {
            "source": ways["u"].to_numpy(dtype=np.int64),
            "target": ways["v"].to_numpy(dtype=np.int64),
            "forward": forward.to_numpy(dtype=bool),
            "backward": backward.to_numpy(dtype=bool),
            "kind": kind.to_numpy(dtype=object),
            "name": names.to_numpy(dtype=object) if names is not None else None,
            "row": np.arange(1, len(ways) + 1),
        },
        geometry=ways.geometry.to_numpy(),
        crs=4326,
    )
    return frame[keep].reset_index(drop=True)


def _barriers(raw: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    empty = gpd.GeoDataFrame({"kind": [], "name": []}, geometry=[], crs=4326)
    if raw is None or len(raw) == 0:
        return empty
    kinds: list[str | None] = []
    for _, row in raw.iterrows():
        tags = _tags(row.get("tags"))
        found = None
        for key, values in _BARRIERS.items():
            value = row.get(key) if key in raw.columns else tags.get(key)
            if isinstance(value, str) and value in values:
                found = "rail" if key == "railway" else value
        if found in ("river", "canal", "rail") and (
            str(row.get("tunnel", tags.get("tunnel", ""))).lower() not in ("", "no", "nan", "none")
            or str(row.get("bridge", tags.get("bridge", ""))).lower()
            not in ("", "no", "nan", "none")
        ):
            found = None  # a rail bridge or a culverted stream blocks nobody
        kinds.append(found)
    geoms = np.asarray(raw.geometry.array, dtype=object)
    polygons = np.isin(shapely.get_type_id(geoms), [3, 6])
    geoms[polygons] = shapely.boundary(geoms[polygons])
    names = raw["name"] if "name" in raw.columns else pd.Series([None] * len(raw))
    frame = gpd.GeoDataFrame(
        {"kind": kinds, "name": names.astype(object).where(names.notna(), None).to_numpy()},
        geometry=geoms,
        crs=4326,
    )
    usable = frame["kind"].notna() & frame.geometry.notna() & ~frame.geometry.is_empty
    usable &= frame.geometry.is_valid
    usable &= frame.geometry.geom_type.isin(["LineString", "MultiLineString"])
    return frame[usable].reset_index(drop=True)
