"""GET /ogc/collections/{cid}/export on the small district of ``conftest`` (3 current
grids, 3 buildings of 120, 80 and 200 households, 2 facilities), read back by GDAL
(``ogrinfo``/``ogr2ogr``), pandas and ``json``; the petition of ``test_visibility``
for masking. The demo district's whole export is ``test_exports_demo.py``.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.exports.dbf_names import dbf_names
from gis.geo.datum import GCJ02, from_wgs84
from gis.incidents.visibility import HIDDEN
from tests.accounts import key_headers
from tests.api.test_visibility import PETITIONER, Case, callers, petition
from tests.http_checks import assert_error

__all__ = ["petition"]  # the fixture, shared with test_visibility

EXPORT = "/ogc/collections/{}/export"
WEST_BOX = "119.10,36.70,119.14,36.76"


def export(client: TestClient, cid: str, **params: Any) -> Any:
    headers = params.pop("headers", None)
    answer = client.get(EXPORT.format(cid), params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer


def ogr_features(source: str, layer: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", source, layer], capture_output=True, check=True
    )
    features: list[dict[str, Any]] = json.loads(done.stdout)["features"]
    return features


def test_grids_as_geojson_with_totals_and_a_filename(client: TestClient) -> None:
    answer = export(client, "grids", f="geojson")
    assert answer.headers["content-type"].startswith("application/geo+json")
    assert answer.headers["ogc-numbermatched"] == answer.headers["ogc-numberreturned"] == "3"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="grids_20') and '.geojson"' in disposition
    assert unquote(disposition.split("UTF-8''")[1]).startswith("单元网格_grids_20")
    assert answer.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    assert "link" not in answer.headers
    body = answer.json()
    assert body["numberMatched"] == body["numberReturned"] == len(body["features"]) == 3
    names = sorted(f["properties"]["name"] for f in body["features"])
    assert names == ["东苑第一网格", "东苑第二网格", "新华网格"]  # the current versions only


def test_grids_as_zipped_shapefile_open_in_gdal(client: TestClient, tmp_path: Path) -> None:
    answer = export(client, "grids", f="shp")
    assert answer.headers["content-type"] == "application/zip"
    path = tmp_path / "grids.shp.zip"
    path.write_bytes(answer.content)
    with zipfile.ZipFile(path) as archive:
        assert archive.read("grids.cpg").strip() == b"UTF-8"
        readme = archive.read("README.txt").decode()
    features = ogr_features(f"/vsizip/{path}/grids.shp", "grids")
    assert len(features) == 3
    short = dbf_names(
        ["id", "code", "name", "community_code", "community_name", "households", "population"]
    )
    props = features[0]["properties"]
    assert {short["community_name"], short["community_code"]} <= set(props)
    assert "comm_name   community_name" in readme
    assert sorted(f["properties"]["comm_name"] for f in features) == [
        "东苑社区",
        "东苑社区",
        "新华社区",
    ]
    assert features[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_facilities_as_geopackage_open_in_gdal(client: TestClient, tmp_path: Path) -> None:
    answer = export(client, "facilities", f="gpkg", headers={"Accept-Encoding": "identity"})
    assert answer.headers["content-type"] == "application/geopackage+sqlite3"
    assert int(answer.headers["content-length"]) == len(answer.content)  # gzip aside
    path = tmp_path / "facilities.gpkg"
    path.write_bytes(answer.content)
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "Layer name: facilities" in info and "Feature Count: 2" in info
    names = sorted(f["properties"]["name"] for f in ogr_features(str(path), "facilities"))
    assert names == ["东苑社康中心", "新华幼儿园"]


def test_buildings_as_csv_in_pandas(client: TestClient) -> None:
    answer = export(client, "buildings", f="csv")
    assert answer.content.startswith("\ufeffid,".encode())
    table = pd.read_csv(io.BytesIO(answer.content), encoding="utf-8-sig", dtype={"grid_code": str})
    assert list(table.columns[-2:]) == ["lon", "lat"]
    assert sorted(table["households"]) == [80, 120, 200]
    assert sorted(table["lon"]) == [119.11, 119.12, 119.17]


def test_a_filter_and_a_bbox_narrow_the_export(client: TestClient) -> None:
    big = export(client, "buildings", f="geojson", filter="households > 100").json()
    assert sorted(f["properties"]["households"] for f in big["features"]) == [120, 200]
    assert big["numberMatched"] == 2
    west = export(client, "buildings", f="csv", bbox=WEST_BOX)
    assert west.headers["ogc-numbermatched"] == "2"
    table = pd.read_csv(io.BytesIO(west.content), encoding="utf-8-sig")
    assert sorted(table["households"]) == [80, 120]


def test_datum_gcj02_shifts_the_coordinates(client: TestClient) -> None:
    body = export(client, "buildings", f="geojson", datum="gcj02", filter="households = 200")
    [feature] = body.json()["features"]
    lon, lat = from_wgs84([119.17], [36.73], GCJ02)
    assert feature["geometry"]["coordinates"] == pytest.approx([lon[0], lat[0]], abs=1e-7)
    assert body.headers["content-crs"].endswith("/ogc/crs/gcj02>")
    by_crs = export(client, "buildings", f="csv", crs="http://testserver/ogc/crs/gcj02")
    table = pd.read_csv(io.BytesIO(by_crs.content), encoding="utf-8-sig")
    assert table.loc[table["households"] == 200, "lon"].iloc[0] == pytest.approx(lon[0], abs=1e-7)


def test_epsg_4326_geojson_is_lat_lon(client: TestClient) -> None:
    body = export(client, "buildings", filter="households = 200", crs="EPSG:4326").json()
    assert body["features"][0]["geometry"]["coordinates"] == [36.73, 119.17]


def test_a_limit_says_what_it_cut(client: TestClient) -> None:
    first = export(client, "buildings", f="csv", limit=2)
    assert first.headers["ogc-numbermatched"] == "3"
    assert first.headers["ogc-numberreturned"] == "2"
    link = first.headers["link"]
    assert link.endswith('rel="next"; type="text/csv; charset=utf-8"') and "offset=2" in link
    rest = client.get(link[1 : link.index(">")])
    assert rest.status_code == 200 and rest.headers["ogc-numberreturned"] == "1"
    assert "link" not in rest.headers
    ids = [
        *pd.read_csv(io.BytesIO(first.content), encoding="utf-8-sig")["id"],
        *pd.read_csv(io.BytesIO(rest.content), encoding="utf-8-sig")["id"],
    ]
    assert len(set(ids)) == 3
    body = export(client, "buildings", limit=1).json()
    assert (body["numberMatched"], body["numberReturned"], len(body["features"])) == (3, 1, 1)
    assert [link["rel"] for link in body["links"]] == ["self", "next"]


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"f": "xlsx"}, 400, "f"),
        ({"filter": "nonsense_field = 1"}, 400, "nonsense_field"),
        ({"filter": "households >"}, 400, "filter"),
        ({"datum": "mars"}, 400, "datum"),
        ({"datum": "gcj02", "crs": "EPSG:4326"}, 400, "disagree"),
        ({"crs": "EPSG:3857"}, 400, "crs"),
        ({"bbox": "1,2,3"}, 400, "bbox"),
        ({"filter-lang": "sql"}, 400, "filter-lang"),
    ],
)
def test_bad_requests_are_clean_400s(
    client: TestClient, params: dict[str, str], status: int, words: str
) -> None:
    answer = client.get(
        EXPORT.format("buildings"), params=params, headers={"Accept-Language": "en"}
    )
    assert_error(answer, status)
    assert words in answer.json()["description"]


def test_an_unknown_collection_is_a_404(client: TestClient, anonymous: TestClient) -> None:
    assert_error(client.get(EXPORT.format("nonsense")), 404)
    assert_error(anonymous.get(EXPORT.format("buildings")), 401)


def test_incidents_export_is_masked_for_a_role_not_responsible(
    anonymous: TestClient, db: Session, petition: Case
) -> None:
    who = callers(db)
    body = export(anonymous, "incidents", headers=who["planner"], filter="category = 'petition'")
    [case] = body.json()["features"]
    assert case["properties"]["description"] == HIDDEN and case["properties"]["masked"] is True
    assert case["geometry"]["coordinates"] == pytest.approx(list(petition.grid_point), abs=1e-6)
    # the filter sees the masked text only: the petitioner's name does not find the case
    hidden = export(
        anonymous, "incidents", headers=who["planner"], filter="description LIKE '%王某某%'"
    )
    assert hidden.json()["numberMatched"] == 0
    table = pd.read_csv(
        io.BytesIO(export(anonymous, "incidents", f="csv", headers=who["planner"]).content),
        encoding="utf-8-sig",
    )
    assert PETITIONER not in table.to_csv()
    assert not audit.entries(db, action="personal.read")

    own = export(anonymous, "incidents", headers=who["own_manager"], f="gpkg")
    assert own.status_code == 200
    [entry] = audit.entries(db, action="personal.read")
    assert entry.object == "export:incidents" and entry.detail == {"incidents": [petition.id]}
    # a key with incidents:read only lacks features:read, which every export needs
    assert_error(anonymous.get(EXPORT.format("incidents"), headers=who["reader_key"]), 403)


def test_a_key_needs_incidents_read_for_cases(anonymous: TestClient, db: Session) -> None:
    only_map = key_headers(db, "map-only", ("features:read",))
    assert export(anonymous, "buildings", headers=only_map, f="csv").status_code == 200
    assert_error(anonymous.get(EXPORT.format("incidents"), headers=only_map), 403)
    both = key_headers(db, "bigdata-both", ("features:read", "incidents:read"))
    assert export(anonymous, "incidents", headers=both).json()["numberMatched"] == 2


def test_coverage_collections_export_with_their_figures(client: TestClient, tmp_path: Path) -> None:
    # 新华社区's building of 200 households is 1,110 m from its kindergarten (radius 300 m)
    body = export(client, "coverage-kindergarten-buildings").json()
    assert body["numberMatched"] == 3
    by_households = {f["properties"]["households"]: f for f in body["features"]}
    assert by_households[200]["properties"]["covered"] is False
    assert by_households[200]["properties"]["nearest_m"] == pytest.approx(1110, abs=5)
    path = tmp_path / "spots.shp.zip"
    path.write_bytes(export(client, "blind-spots-kindergarten", f="shp").content)
    spots = ogr_features(f"/vsizip/{path}/blind-spots-kindergarten.shp", "blind-spots-kindergarten")
    assert sum(f["properties"]["households"] for f in spots) == 400  # nothing covered
    assert {f["properties"]["comm_name"] for f in spots} == {"东苑社区", "新华社区"}
