"""Getis-Ord Gi* hot spots of incidents on the demo district (read-only) and by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from gis.incidents.hotspots import HOT_SPOT_CLASSES, classify_gi, gi_star, hot_spots

YEAR = (dt.date(2025, 11, 1), dt.date(2026, 11, 1))  # the demo's year, half-open
SEED = 7


def _seeded_hot_grids(conn: Connection) -> tuple[list[str], str]:
    """The generator's hot-spot grids (it names them in the descriptions) and the grid
    farthest from all of them."""
    names = (
        conn.execute(
            text(
                "SELECT DISTINCT substring(description FROM '奎文区(.*)一带') FROM incident"
                " WHERE description LIKE '%一带'"
            )
        )
        .scalars()
        .all()
    )
    far = conn.execute(
        text(
            "SELECT g.name FROM grid g, (SELECT ST_Collect(ST_Centroid(geom)) AS c FROM grid"
            "  WHERE name = ANY(:hot)) h"
            " ORDER BY ST_Distance(g.geom::geography, h.c::geography) DESC LIMIT 1"
        ),
        {"hot": names},
    ).scalar_one()
    return list(names), far


@pytest.fixture(scope="module")
def year_hot_spots(demo_engine: Engine) -> pd.DataFrame:
    with demo_engine.connect() as conn:
        return hot_spots(conn, *YEAR, seed=SEED)


def test_the_demo_hot_spots_are_found(demo_engine: Engine, year_hot_spots: pd.DataFrame) -> None:
    """The generator puts ~30 % of incidents around a dozen grids: all are hot at 95 %+."""
    with demo_engine.connect() as conn:
        seeded, far = _seeded_hot_grids(conn)
    assert 8 <= len(seeded) <= 12  # a dozen picks; two may coincide
    hs = year_hot_spots.set_index("name")
    labels = hs.loc[seeded, "hot_spot"]
    assert labels.isin(["hot 99%", "hot 95%"]).all(), labels.to_dict()
    assert (hs.loc[seeded, "gi_z"] > 1.96).all()
    assert hs.loc[far, "hot_spot"] == "not significant"
    assert year_hot_spots.attrs == {
        "weights": "queen",
        "inference": "normal",
        "incidents_without_grid": 0,
    }
    assert set(year_hot_spots["hot_spot"]) <= set(HOT_SPOT_CLASSES)
    # Grids labelled hot hold far more than their share of the incidents.
    hot = year_hot_spots["hot_spot"].str.startswith("hot")
    assert hot.mean() < 0.15
    assert year_hot_spots.loc[hot, "received"].sum() > 0.3 * year_hot_spots["received"].sum()


def test_permutation_inference_finds_the_clustered_hot_grids(demo_engine: Engine) -> None:
    """Conditional permutations test a grid's neighbours only: seeded grids that sit next
    to other busy grids stay hot, lone busy grids do not, the far grid never is."""
    with demo_engine.connect() as conn:
        seeded, far = _seeded_hot_grids(conn)
        hs = hot_spots(conn, *YEAR, seed=SEED, inference="permutation").set_index("name")
    strong = hs.loc[seeded, "hot_spot"].isin(["hot 99%", "hot 95%"])
    assert strong.sum() >= len(seeded) // 2, hs.loc[seeded, ["gi_z", "p_sim"]]
    assert not hs.loc[far, "hot_spot"].startswith("hot")
    assert (hs.loc[hs["hot_spot"].str.startswith("hot"), "p_sim"] <= 0.10).all()


def test_hot_spots_are_reproducible_with_a_seed(
    demo_engine: Engine, year_hot_spots: pd.DataFrame
) -> None:
    with demo_engine.connect() as conn:
        again = hot_spots(conn, *YEAR, seed=SEED)
        other = hot_spots(conn, *YEAR, seed=SEED + 1)
    pd.testing.assert_frame_equal(again, year_hot_spots)
    assert not np.array_equal(other["p_sim"], year_hot_spots["p_sim"])
    for col in ("gi_z", "p_norm"):  # analytical: the seed does not matter
        np.testing.assert_allclose(other[col], year_hot_spots[col])
    rate = year_hot_spots["received"] * 1000 / year_hot_spots["households"]
    np.testing.assert_allclose(year_hot_spots["per_1000_households"], rate)


def test_gi_classes_follow_the_standard_bins() -> None:
    z = [3.1, 2.2, 1.7, 0.4, -1.7, -2.2, -3.1, 2.0, -2.0, 5.0, 0.0]
    p = [0.001, 0.03, 0.08, 0.6, 0.09, 0.04, 0.002, 0.01, 0.05, 0.10, 0.001]
    assert classify_gi(z, p).tolist() == [
        "hot 99%",
        "hot 95%",
        "hot 90%",
        "not significant",
        "cold 90%",
        "cold 95%",
        "cold 99%",
        "hot 99%",  # the bin edges belong to the stricter class
        "cold 95%",
        "hot 90%",
        "not significant",  # no direction, no class
    ]
    assert classify_gi([2.0], [0.1001]).tolist() == ["not significant"]
    assert classify_gi([np.nan], [np.nan]).tolist() == ["not significant"]


def test_gi_star_finds_a_hand_made_cluster() -> None:
    """A 7×7 lattice with a high 3×3 block in one corner: its centre is hot, the far corner not."""
    from libpysal.weights import lat2W

    w = lat2W(7, 7, rook=False)  # Queen contiguity
    y = np.ones(49)
    block = [r * 7 + c for r in range(3) for c in range(3)]
    y[block] = 10.0
    for inference in ("normal", "permutation"):
        gi = gi_star(y, w, permutations=999, seed=1, inference=inference)
        assert gi.label[8] == "hot 99%", inference  # centre of the block (row 1, col 1)
        assert not gi.label[48].startswith("hot")  # the far corner
    assert gi.z[8] > 2.58 and gi.p_norm[8] < 0.01 and gi.p_sim[8] <= 0.01
    again = gi_star(y, w, permutations=999, seed=1, inference="permutation")
    assert np.array_equal(gi.p_sim, again.p_sim)
