"""The coverage walkthrough notebook runs top to bottom on the demo and prints the right figures."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import Engine

from gis.coverage.geometry import blind_spots
from gis.coverage.report import area_rollups
from gis.coverage.store import build_coverage

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "coverage_walkthrough.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


@pytest.fixture(scope="module")
def executed(
    demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[nbformat.NotebookNode, Path]:
    """The notebook executed against the demo database; the kernel gets the URL by env."""
    out_dir = tmp_path_factory.mktemp("notebook-out")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {
        **os.environ,
        "DATABASE_URL": demo_engine.url.render_as_string(hide_password=False),
        "GRIDMAP_NOTEBOOK_OUT": str(out_dir),
    }
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute(env=env)
    return nb, out_dir


def test_the_stored_notebook_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_notebook_runs_without_errors(executed: tuple[nbformat.NotebookNode, Path]) -> None:
    nb, out_dir = executed
    errors = [
        f"{o.ename}: {o.evalue}"
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == []
    assert (out_dir / "kindergarten_blind_spots.html").stat().st_size > 10_000


def test_notebook_prints_the_district_health_station_rate(
    executed: tuple[nbformat.NotebookNode, Path], demo_engine: Engine
) -> None:
    nb, _ = executed
    with demo_engine.connect() as conn:
        district = area_rollups(build_coverage(conn, "community_health_station", 1000), "district")
    rate = float(district["coverage_rate"].iloc[0])
    text = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    assert f"District health-station coverage rate: {rate:.2%}" in text
    uncovered = int(district["households_uncovered"].iloc[0])
    assert f"Households beyond 1000 m of a health station: {uncovered:,}" in text
    assert "does not hold (133 of 137 communities have a station)" in text


def test_notebook_what_if_gain_matches_the_coverage_index(
    executed: tuple[nbformat.NotebookNode, Path], demo_engine: Engine
) -> None:
    nb, _ = executed
    with demo_engine.connect() as conn:
        model = build_coverage(conn, "kindergarten", 300)
        spots = blind_spots(conn, "kindergarten", model=model)
    biggest = spots.sort_values(["households", "area_m2"], ascending=False).iloc[0]
    site = spots.loc[[biggest.name]].to_crs(model.plane.epsg).centroid.iloc[0]
    gained = model.index.what_if(add=[(site.x, site.y)]).households_gained
    assert gained > 0
    text = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    assert (
        f"({biggest.community_code}), blind spot {biggest.part}: {gained:,} households gain" in text
    )
