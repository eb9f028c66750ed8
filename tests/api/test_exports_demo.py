"""The whole demo district leaves in one request per format, through the real app
(its own sessions, the heavy slot, streaming) on the demo database: GDAL counts every
building in the GeoPackage and the zipped Shapefile, with Chinese names intact, and
the GeoJSON and CSV hold every building too, matching ``numberMatched``."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.app import create_app
from gis.settings import ServerSettings
from tests.accounts import committed_headers

EXPORT = "/ogc/collections/buildings/export"


@pytest.fixture(scope="module")
def client(demo_engine: Engine) -> Iterator[TestClient]:
    headers = committed_headers(demo_engine, "planner", "planner")  # the demo's own planner
    with TestClient(create_app(ServerSettings(), engine=demo_engine), headers=headers) as c:
        yield c


@pytest.fixture(scope="module")
def buildings(demo_engine: Engine) -> dict[int, str | None]:
    with demo_engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name FROM building")).all()
    return {int(r[0]): r[1] for r in rows}


def _ogr(source: str, layer: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", source, layer], capture_output=True, check=True
    )
    features: list[dict[str, Any]] = json.loads(done.stdout)["features"]
    return features


def _get(client: TestClient, fmt: str) -> Any:
    answer = client.get(EXPORT, params={"f": fmt})
    assert answer.status_code == 200, answer.text
    assert int(answer.headers["ogc-numbermatched"]) == int(answer.headers["ogc-numberreturned"])
    return answer


def _names_match(got: dict[int, Any], buildings: dict[int, str | None]) -> None:
    assert set(got) == set(buildings)
    named = [i for i, name in buildings.items() if name]
    assert named, "the demo has named buildings"
    assert all(got[i] == buildings[i] for i in named)


@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_every_building_in_one_file_gdal_opens(
    client: TestClient, buildings: dict[int, str | None], fmt: str, tmp_path: Path
) -> None:
    answer = _get(client, fmt)
    assert int(answer.headers["ogc-numbermatched"]) == len(buildings)
    path = tmp_path / f"buildings.{'shp.zip' if fmt == 'shp' else 'gpkg'}"
    path.write_bytes(answer.content)
    if fmt == "shp":
        with zipfile.ZipFile(path) as archive:
            assert "No text was cut" in archive.read("README.txt").decode()
        source = f"/vsizip/{path}/buildings.shp"
    else:
        source = str(path)
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", source], capture_output=True, text=True, check=True
    ).stdout
    assert f"Feature Count: {len(buildings)}" in info
    features = _ogr(source, "buildings")
    _names_match({f["properties"]["id"]: f["properties"]["name"] for f in features}, buildings)


def test_every_building_as_geojson_and_csv(
    client: TestClient, buildings: dict[int, str | None]
) -> None:
    body = _get(client, "geojson").json()
    assert body["numberMatched"] == body["numberReturned"] == len(body["features"])
    _names_match({f["id"]: f["properties"]["name"] for f in body["features"]}, buildings)
    table = pd.read_csv(io.BytesIO(_get(client, "csv").content), encoding="utf-8-sig")
    got = {
        int(i): (None if pd.isna(n) else n) for i, n in zip(table["id"], table["name"], strict=True)
    }
    _names_match(got, buildings)
