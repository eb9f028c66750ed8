"""What is on the coverage map, taken away: the ranking, GeoPackage and CSV exports, the
printed map; on the small district of ``conftest`` (values by hand).

The health station (radius 1000 m, asked at 1200 m here) at (119.12, 36.73) is
1,110 m from the building of 80 households at (119.12, 36.74) (covered at
1200 m) and 1,425 m from the one of 120 at (119.11, 36.72) (not covered).
The west box 119.10-119.14 holds those two buildings, grids 001001001 and
001001002 of 东苑社区, and the station; not the east community's building.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
from PIL import Image

from tests.http_checks import assert_error, ok

WEST_BOX = "119.10,36.70,119.14,36.76"
HEALTH = {"facility_type": "health_station", "radius_m": "1200"}
GPKG_MAGIC = b"SQLite format 3\x00"


def _get(client: Any, path: str, **params: str) -> Any:
    return client.get(path, params={**HEALTH, **params})


def test_worst_communities_ranked(client: Any) -> None:
    body = ok(client.get("/api/v1/coverage/worst", params={"facility_type": "kindergarten"}))
    assert body["by"] == "community" and body["radius_m"] == 300
    # 新华社区's 200 households are 1,110 m from its kindergarten; 东苑社区 has none.
    rows = body["rows"]
    assert [r["rank"] for r in rows] == [1, 2]
    assert [r["name"] for r in rows] == ["东苑社区", "新华社区"]  # 0 %, then most uncovered
    assert rows[0]["coverage_rate"] == 0.0 and rows[0]["households_uncovered"] == 200
    assert (
        ok(client.get("/api/v1/coverage/worst", params={**HEALTH, "n": "1"}))["rows"][0]["rank"]
        == 1
    )
    assert_error(client.get("/api/v1/coverage/worst", params={**HEALTH, "n": "0"}), 400)


def test_export_geopackage_holds_the_box_with_chinese_names(client: Any, tmp_path: Path) -> None:
    answer = _get(client, "/api/v1/coverage/export", bbox=WEST_BOX, format="gpkg")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/geopackage+sqlite3"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="coverage_health_station_1200m_')
    assert disposition.endswith('.gpkg"')
    assert answer.content.startswith(GPKG_MAGIC)
    path = tmp_path / "export.gpkg"
    path.write_bytes(answer.content)

    layers = {name: kind for name, kind in pyogrio.list_layers(path)}
    assert set(layers) == {"buildings", "grids", "facilities"}
    buildings = pyogrio.read_dataframe(path, layer="buildings").sort_values("households")
    assert list(buildings["households"]) == [80, 120]
    assert list(buildings["covered"]) == [True, False]
    assert set(buildings["community_name"]) == {"东苑社区"}
    assert set(buildings["grid_name"]) == {"东苑第一网格"}
    assert set(buildings["nearest_facility_name"]) == {"东苑社康中心"}
    assert buildings["nearest_m"].iloc[0] == pytest.approx(1110, abs=5)
    assert buildings.crs.to_epsg() == 4326
    assert list(buildings.geometry.x.round(4)) == [119.12, 119.11]

    grids = pyogrio.read_dataframe(path, layer="grids").sort_values("code")
    assert list(grids["code"]) == ["370705001001001", "370705001001002"]
    assert list(grids["name"]) == ["东苑第一网格", "东苑第二网格"]
    first = grids.iloc[0]
    assert (first["households"], first["households_covered"]) == (200, 80)
    assert first["coverage_rate"] == pytest.approx(0.4)
    facilities = pyogrio.read_dataframe(path, layer="facilities")
    assert list(facilities["name"]) == ["东苑社康中心"]


def test_export_csv_is_utf8_with_a_bom_for_excel(client: Any) -> None:
    answer = _get(client, "/api/v1/coverage/export", bbox=WEST_BOX, format="csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].endswith('.buildings.csv"')
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert sorted(int(r["households"]) for r in rows) == [80, 120]
    assert {r["community_name"] for r in rows} == {"东苑社区"}

    grids = _get(client, "/api/v1/coverage/export", bbox=WEST_BOX, format="csv", layer="grids")
    table = list(csv.DictReader(io.StringIO(grids.content.decode("utf-8-sig"))))
    assert [r["name"] for r in table] == ["东苑第一网格", "东苑第二网格"]

    whole = _get(client, "/api/v1/coverage/export", format="csv")
    assert len(list(csv.DictReader(io.StringIO(whole.content.decode("utf-8-sig"))))) == 3


def test_an_export_too_large_is_refused_with_what_to_do(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gis.coverage import export

    monkeypatch.setattr(export, "EXPORT_MAX_BUILDINGS", 1)
    answer = _get(client, "/api/v1/coverage/export", bbox=WEST_BOX, format="csv")
    assert_error(answer, 400, "2 栋楼", "缩小导出范围")
    english = client.get(
        "/api/v1/coverage/export",
        params={**HEALTH, "bbox": WEST_BOX, "format": "csv"},
        headers={"Accept-Language": "en"},
    )
    assert_error(english, 400, "2 buildings", "smaller box")


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "119.2,36.7,119.1,36.8"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"format": "shp"}, "format"),
        ({"facility_type": "nope"}, "nope"),
        ({"radius_m": "0"}, "radius_m"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/coverage/export", "/api/v1/coverage/print"])
def test_bad_parameters_are_400(
    client: Any, path: str, params: dict[str, str], fragment: str
) -> None:
    assert_error(client.get(path, params={**HEALTH, **params}), 400, fragment)


def test_printed_png_has_a_title_legend_and_map(client: Any) -> None:
    answer = _get(
        client, "/api/v1/coverage/print", bbox=WEST_BOX, format="png", title="东苑社区社康覆盖"
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert answer.headers["content-disposition"].endswith('.png"')
    image = Image.open(io.BytesIO(answer.content)).convert("L")
    assert image.size[0] >= 1700 and image.size[1] >= 1200  # A4 at 150 dpi
    pixels = np.asarray(image)
    height, width = pixels.shape
    # The title band (top left) holds dark strokes of text; the page is not blank.
    title_band = pixels[int(height * 0.02) : int(height * 0.08), : int(width * 0.5)]
    assert (title_band < 100).sum() > 500
    assert pixels.std() > 20
    # The map area is coloured (the choropleth), not white.
    colour = np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGB"))
    map_area = colour[int(height * 0.2) : int(height * 0.8), int(width * 0.1) : int(width * 0.7)]
    assert (np.ptp(map_area.reshape(-1, 3), axis=1) > 40).mean() > 0.2


def test_printed_pdf(client: Any) -> None:
    answer = _get(client, "/api/v1/coverage/print", bbox=WEST_BOX, format="pdf")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-")
    assert answer.content.rstrip().endswith(b"%%EOF")
    assert 10_000 < len(answer.content) < 5_000_000


def test_a_print_of_half_the_world_is_refused(client: Any) -> None:
    answer = _get(client, "/api/v1/coverage/print", bbox="0,0,120,60")
    assert_error(answer, 400, "请放大地图")


def test_take_away_is_for_staff_who_plan(client: Any, db: Any) -> None:
    from tests.accounts import login_headers

    mediator = login_headers(db, "takeaway-mediator", "mediator", area_code="370705001001")
    answer = client.get(
        "/api/v1/coverage/export", params={**HEALTH, "format": "csv"}, headers=mediator
    )
    assert answer.status_code == 403
    planner = login_headers(db, "takeaway-planner", "planner")
    answer = client.get(
        "/api/v1/coverage/export", params={**HEALTH, "format": "csv"}, headers=planner
    )
    assert answer.status_code == 200
