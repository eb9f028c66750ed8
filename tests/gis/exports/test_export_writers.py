"""The four export formats, read back by the clients people use: GDAL (``ogrinfo``,
``ogr2ogr`` from Debian's gdal-bin) for the GeoPackage and the zipped Shapefile,
pandas for the CSV, ``json`` for the GeoJSON. Batches are built by hand here, in the
shape ``gis.features.query.batches`` reads them (id, properties, WKB geometry);
``tests/api/test_exports_api.py`` exports the demo district through the API.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from gis.exports.dbf_names import DBF_NAME_MAX, dbf_names
from gis.exports.writers import (
    DBF_TEXT_BYTES,
    FORMATS,
    Export,
    ExportField,
    ExportIncompleteError,
    Format,
    write_export,
)
from gis.geo.datum import CGCS2000, GCJ02, from_wgs84
from gis.lang import Texts

FIELDS = (
    ExportField("name", "string", "名称"),
    ExportField("community_name", "string", "社区名称"),
    ExportField("households", "integer", "户数"),
    ExportField("coverage_rate", "number", "覆盖率"),
    ExportField("covered", "boolean", "已覆盖"),
    ExportField("reported_at", "date-time", "上报时间"),
    ExportField("valid_from", "date", "生效日期"),
    ExportField("description", "string", "描述"),
)
NAMES = ["东苑小区1号楼", None, "新华路88号", "潍坊市奎文区东关街道"]
LONG = "很长的描述" * 30  # 450 bytes of UTF-8: more than a DBF field holds


def _batch(start: int, n: int) -> pd.DataFrame:
    ids = list(range(start, start + n))
    return pd.DataFrame(
        {
            "id": ids,
            "name": [NAMES[i % len(NAMES)] for i in ids],
            "community_name": ["东苑社区" if i % 2 else "新华社区" for i in ids],
            "households": [None if i % 5 == 0 else i * 10 for i in ids],
            "coverage_rate": [i / 100 for i in ids],
            "covered": [None if i % 7 == 0 else bool(i % 2) for i in ids],
            "reported_at": [dt.datetime(2026, 3, 1, 9, i % 60, tzinfo=dt.UTC) for i in ids],
            "valid_from": [dt.date(2020, 1, 1 + i % 28) for i in ids],
            "description": [LONG if i == start else f"第{i}条" for i in ids],
            "geometry": [
                shapely.to_wkb(shapely.Point(119.1 + i * 1e-4, 36.7 + i * 1e-4)) for i in ids
            ],
        }
    )


def _batches(total: int, size: int = 7) -> Iterator[pd.DataFrame]:
    for start in range(1, total + 1, size):
        yield _batch(start, min(size, total + 1 - start))


def _export(n: int, **kw: Any) -> Export:
    return Export("buildings", Texts("楼栋", "Buildings"), "Point", FIELDS, n, n, **kw)


def _write(fmt: Format, export: Export, batches: Any, folder: Path) -> Path:
    written = write_export(fmt, export, batches, folder)
    out = folder / f"out.{FORMATS[fmt].extension}"
    out.write_bytes(b"".join(written.chunks))
    if written.size is not None:
        assert written.size == out.stat().st_size
    return out


def _ogr_features(source: str, layer: str) -> list[dict[str, Any]]:
    """The layer as GDAL reads it, converted by ogr2ogr to GeoJSON."""
    done = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", source, layer],
        capture_output=True,
        check=True,
    )
    features: list[dict[str, Any]] = json.loads(done.stdout)["features"]
    return features


def _ogrinfo(source: str) -> str:
    return subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", source], capture_output=True, text=True, check=True
    ).stdout


def test_shapefile_zip_opens_in_gdal_with_chinese_names_and_short_fields(tmp_path: Path) -> None:
    out = _write(Format.SHP, _export(23), _batches(23), tmp_path)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert names == {f"buildings.{e}" for e in ("shp", "shx", "dbf", "prj", "cpg")} | {
            "README.txt"
        }
        assert archive.read("buildings.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
        readme = archive.read("README.txt").decode("utf-8")
    source = f"/vsizip/{out}/buildings.shp"
    info = _ogrinfo(source)
    assert "Feature Count: 23" in info and 'ID["EPSG",4326]' in info
    features = _ogr_features(source, "buildings")
    assert len(features) == 23
    expected = dbf_names(["id", *(f.name for f in FIELDS)])
    assert list(features[0]["properties"]) == list(expected.values())
    assert expected["community_name"] == "comm_name" and expected["coverage_rate"] == "cov_rate"
    by_id = {f["properties"]["id"]: f for f in features}
    assert by_id[2]["properties"]["name"] == "新华路88号"
    assert by_id[1]["properties"]["name"] is None
    assert by_id[3]["properties"]["comm_name"] == "东苑社区"
    assert by_id[5]["properties"]["households"] is None
    assert by_id[6]["properties"]["households"] == 60
    assert by_id[3]["properties"]["covered"] == 1 and by_id[7]["properties"]["covered"] is None
    assert by_id[3]["properties"]["reported"] == "2026-03-01T09:03:00+00:00"
    assert by_id[3]["properties"]["valid_from"] == "2020-01-04"
    # the long descriptions (ids 1, 8, 15, 22) are cut at a character, and counted
    cut = by_id[1]["properties"]["descr"]
    assert LONG.startswith(cut) and len(cut.encode()) <= DBF_TEXT_BYTES
    assert by_id[2]["properties"]["descr"] == "第2条"
    assert "description: 4" in readme
    assert by_id[3]["geometry"]["coordinates"] == pytest.approx([119.1003, 36.7003])
    for name, short in expected.items():
        assert f"{short:<10}  {name:<24}" in readme


def test_geopackage_opens_in_gdal_one_layer_per_collection(tmp_path: Path) -> None:
    out = _write(Format.GPKG, _export(30), _batches(30, size=4), tmp_path)
    info = _ogrinfo(str(out))
    assert "Layer name: buildings" in info and "Feature Count: 30" in info
    assert 'ID["EPSG",4326]' in info and "Warning" not in info
    assert "reported_at: DateTime" in info and "covered: Integer" in info
    features = {f["properties"]["id"]: f for f in _ogr_features(str(out), "buildings")}
    assert len(features) == 30
    props = features[1]["properties"]
    assert props["description"] == LONG  # whole, unlike the DBF
    assert features[3]["properties"]["name"] == "潍坊市奎文区东关街道"
    assert features[3]["properties"]["community_name"] == "东苑社区"
    assert features[4]["properties"]["covered"] == 0
    assert features[7]["properties"]["covered"] is None
    assert features[10]["properties"]["households"] is None


def test_geopackage_in_gcj02_has_no_crs_and_says_its_datum(tmp_path: Path) -> None:
    out = _write(Format.GPKG, _export(3, datum=GCJ02), _batches(3), tmp_path)
    info = _ogrinfo(str(out))
    assert "DESCRIPTION=楼栋 (Buildings). 坐标：GCJ-02 经纬度" in info
    assert 'ID["EPSG"' not in info and "Undefined SRS" in info
    got = _ogr_features(str(out), "buildings")[0]["geometry"]["coordinates"]
    lon, lat = from_wgs84([119.1001], [36.7001], GCJ02)
    assert got == pytest.approx([lon[0], lat[0]], abs=1e-7)
    assert abs(got[0] - 119.1001) > 0.003  # GCJ-02 is hundreds of metres off


def test_shapefile_in_gcj02_has_no_prj(tmp_path: Path) -> None:
    out = _write(Format.SHP, _export(3, datum=GCJ02), _batches(3), tmp_path)
    with zipfile.ZipFile(out) as archive:
        assert "buildings.prj" not in archive.namelist()
        assert "Coordinates: GCJ-02 longitude, latitude" in archive.read("README.txt").decode()


def test_cgcs2000_is_declared_as_epsg_4490(tmp_path: Path) -> None:
    out = _write(Format.GPKG, _export(2, datum=CGCS2000), _batches(2), tmp_path)
    assert 'ID["EPSG",4490]' in _ogrinfo(str(out))


def test_geojson_streams_all_features_with_totals(tmp_path: Path) -> None:
    links = ({"href": "http://x/export?f=geojson", "rel": "self"},)
    export = Export("buildings", Texts("楼栋", "Buildings"), "Point", FIELDS, 40, 25, links=links)
    batches = (b for b in _batches(25, size=10))
    written = write_export(Format.GEOJSON, export, batches, tmp_path)
    chunks = list(written.chunks)
    assert len(chunks) >= 4  # the head, one per batch, the tail: never the whole file at once
    body = json.loads(b"".join(chunks))
    assert body["numberMatched"] == 40 and body["numberReturned"] == 25
    assert body["links"] == list(links)
    assert len(body["features"]) == 25
    first = body["features"][0]
    assert first["id"] == 1 and first["geometry"]["coordinates"] == [119.1001, 36.7001]
    assert first["properties"]["households"] == 10  # an integer, though others are null
    assert first["properties"]["valid_from"] == "2020-01-02"
    assert body["features"][4]["properties"]["households"] is None
    assert body["features"][1]["properties"]["name"] == "新华路88号"


def test_geojson_lat_lon_axis_order(tmp_path: Path) -> None:
    written = write_export(Format.GEOJSON, _export(1, lat_lon=True), _batches(1), tmp_path)
    body = json.loads(b"".join(written.chunks))
    assert body["features"][0]["geometry"]["coordinates"] == [36.7001, 119.1001]


def test_csv_opens_in_pandas_with_its_bom(tmp_path: Path) -> None:
    out = _write(Format.CSV, _export(12), _batches(12, size=5), tmp_path)
    assert out.read_bytes().startswith(b"\xef\xbb\xbfid,")
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert list(table.columns) == ["id", *(f.name for f in FIELDS), "lon", "lat"]
    assert len(table) == 12
    assert table.loc[1, "name"] == "新华路88号"
    assert table.loc[0, "lon"] == pytest.approx(119.1001)
    assert table.loc[5, "households"] == 60 and pd.isna(table.loc[4, "households"])


def test_csv_polygons_as_wkt(tmp_path: Path) -> None:
    square = shapely.MultiPolygon([shapely.box(119.1, 36.7, 119.2, 36.8)])
    batch = pd.DataFrame({"id": [1], "code": ["370705001001001"], "geometry": [square.wkb]})
    export = Export(
        "grids", Texts("网格", "Grids"), "MultiPolygon", (ExportField("code", "string"),), 1, 1
    )
    text = b"".join(write_export(Format.CSV, export, [batch], tmp_path).chunks).decode("utf-8-sig")
    table = pd.read_csv(io.StringIO(text), dtype={"code": str})
    assert list(table.columns) == ["id", "code", "wkt"]
    assert shapely.from_wkt(table.loc[0, "wkt"]).equals(square)


def test_an_empty_selection_is_still_a_file_gdal_opens(tmp_path: Path) -> None:
    for fmt in (Format.GPKG, Format.SHP):
        folder = tmp_path / fmt
        folder.mkdir()
        out = _write(fmt, _export(0), [], folder)
        source = f"/vsizip/{out}/buildings.shp" if fmt is Format.SHP else str(out)
        assert "Feature Count: 0" in _ogrinfo(source)


@pytest.mark.parametrize("fmt", list(Format))
def test_fewer_features_than_announced_is_an_error_not_a_short_file(
    fmt: Format, tmp_path: Path
) -> None:
    with pytest.raises(ExportIncompleteError, match="announced 9"):
        b"".join(write_export(fmt, _export(9), _batches(8), tmp_path).chunks)


@given(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True), unique=True, max_size=40))
def test_dbf_names_are_short_and_distinct(names: list[str]) -> None:
    mapping = dbf_names(names)
    assert list(mapping) == names
    shorts = [s.lower() for s in mapping.values()]
    assert len(set(shorts)) == len(shorts)
    assert all(len(s) <= DBF_NAME_MAX for s in shorts)
