"""Hot and cold spots of incidents per grid: Getis-Ord Gi* on the rate per 1,000 households.

Gi* (esda ``G_Local`` with ``star=True``) runs over Queen contiguity of the
grid polygons (binary weights, each grid in its own neighbourhood), with
normal and permutation p-values; classes follow the usual Gi* bins (90/95/99 %
hot or cold). Why the normal p-value is the default: see :func:`gi_star`.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import Connection

from gis.areas.hierarchy import AreaTables, grid_values, load_areas
from gis.errors import InvalidParameterError
from gis.geo.datum import STORAGE_SRID
from gis.geo.metric import MetricPlane
from gis.incidents.stats import load_grid_counts, per_1000, rows_within
from gis.localtime import Moment

#: Gi* classes, hottest first; the map legend reads them in this order.
HOT_SPOT_CLASSES = (
    "hot 99%",
    "hot 95%",
    "hot 90%",
    "not significant",
    "cold 90%",
    "cold 95%",
    "cold 99%",
)
#: (largest p-value, confidence label) from the strictest bin down.
_GI_BINS = ((0.01, "99%"), (0.05, "95%"), (0.10, "90%"))
#: Which p-value the Gi* classes use: the normal one of the z-score (the textbook test,
#: default) or the pseudo p-value of esda's conditional permutations (see ``gi_star``).
Inference = Literal["permutation", "normal"]


def _load_grid_polygons(conn: Connection, areas: AreaTables) -> NDArray[np.object_]:
    """Current grid polygons (EPSG:4326) in the order of ``areas.grid_ids``."""
    return shapely.from_wkb([bytes(g) for g in grid_values(conn, areas, "ST_AsBinary(geom)")])


def classify_gi(z: ArrayLike, p: ArrayLike) -> NDArray[np.object_]:
    """Gi* class per area: 'hot 99%' … 'not significant' … 'cold 99%'.

    The confidence comes from the p-value (≤ 0.01, ≤ 0.05, ≤ 0.10), the
    direction from the sign of the z-score (positive: high values cluster).
    NaN p-values or z = 0 are not significant.
    """
    zz = np.asarray(z, dtype=np.float64)
    pp = np.asarray(p, dtype=np.float64)
    out = np.full(zz.shape, "not significant", dtype=object)
    for limit, conf in reversed(_GI_BINS):  # loosest first, stricter bins overwrite
        sig = pp <= limit
        out[sig & (zz > 0)] = f"hot {conf}"
        out[sig & (zz < 0)] = f"cold {conf}"
    return out


def two_sided_p(
    observed: NDArray[np.float64], simulated: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Two-sided pseudo p-value of each observed statistic against its permutations.

    ``simulated[i]`` holds area ``i``'s statistic under each permutation. The
    tail the observation lies in is counted (plus one for the observation
    itself) and doubled, capped at 1: the two-sided test the ±1.65/1.96/2.58
    Gi* bins stand for; with 999 permutations the smallest p is 0.002.
    """
    obs = np.asarray(observed, dtype=np.float64)[:, None]
    sims = np.asarray(simulated, dtype=np.float64)
    tail = np.minimum((sims >= obs).sum(axis=1), (sims <= obs).sum(axis=1))
    return np.minimum(1.0, 2.0 * (tail + 1) / (sims.shape[1] + 1))


@dataclass(frozen=True)
class GiStar:
    """Gi* per area.

    ``z``: standard deviations from the statistic's analytical moments (Ord &
    Getis 1995; independent of the seed). ``p_norm``: its two-sided normal
    p-value. ``p_sim``: two-sided pseudo p-value from conditional permutations
    (seeded). ``label``: the Gi* class from ``z`` and the p-value ``inference``
    chose.
    """

    z: NDArray[np.float64]
    p_norm: NDArray[np.float64]
    p_sim: NDArray[np.float64]
    label: NDArray[np.object_]
    inference: Inference


def gi_star(
    values: ArrayLike,
    weights: object,
    permutations: int = 999,
    seed: int = 20251101,
    inference: Inference = "normal",
) -> GiStar:
    """Getis-Ord Gi* of ``values`` over binary ``weights`` (libpysal W), reproducible by seed.

    Classes use the normal p-value by default, the textbook Gi* test (as in
    ArcGIS's Hot Spot Analysis): esda's permutations are *conditional* on the
    area's own value, so they test only its neighbours and ignore the very
    value that makes Gi* "star". On the demo, conditional permutation misses
    five of the twelve seeded hot grids (single busy grids among ordinary
    neighbours, p_sim 0.2-0.35) and labels grids with z ≈ -1.1 "cold 99%"
    (the rates are skewed); ``inference="permutation"`` is there for analysts
    who want the cluster-only reading. Constant values (an empty period) have
    no hot spots: z = 0, p = 1, instead of a division by zero.
    """
    from esda.getisord import G_Local  # esda is heavy; only hot spots need it

    y = np.asarray(values, dtype=np.float64)
    if len(y) == 0 or np.ptp(y) == 0:
        z = np.zeros(len(y))
        p = np.ones(len(y))
        return GiStar(z, p, p.copy(), classify_gi(z, p), inference)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # esda warns that its one-sided default p will change; we compute our own below.
        # Its simulated z (z_sim, unused here) divides by a zero spread where every
        # permutation gives an area the same sum (a few busy grids among empty ones).
        warnings.filterwarnings("ignore", "The alternative hypothesis", DeprecationWarning)
        g = G_Local(
            y,
            weights,
            transform="B",
            permutations=permutations,
            star=True,
            keep_simulations=True,
            n_jobs=1,
            seed=seed,
        )
    z = np.asarray(g.Zs, dtype=np.float64)
    p_norm = np.minimum(1.0, 2.0 * np.asarray(g.p_norm, dtype=np.float64))
    p_sim = two_sided_p(np.asarray(g.Gs), np.asarray(g.rGs))
    label = classify_gi(z, p_norm if inference == "normal" else p_sim)
    return GiStar(z, p_norm, p_sim, label, inference)


_WEIGHTS_KEPT = 4
_weights: OrderedDict[tuple[bytes, int], tuple[object, str]] = OrderedDict()
_weights_lock = threading.Lock()


def contiguity_weights(polygons: NDArray[np.object_], plane: MetricPlane) -> tuple[object, str]:
    """Queen contiguity of ``polygons`` (see ``_contiguity_weights``), kept for the
    last few tilings: libpysal builds it in pure Python (a quarter of a second for
    the demo's grids, holding the GIL), while the grids change a few times a year.
    The key is a digest of the polygons' WKB, so a redrawn grid is a new key."""
    digest = hashlib.blake2b(digest_size=16)
    for wkb in shapely.to_wkb(polygons):
        digest.update(wkb)
    key = (digest.digest(), plane.epsg)
    with _weights_lock:
        if key in _weights:
            _weights.move_to_end(key)
            return _weights[key]
    found = _contiguity_weights(polygons, plane)
    with _weights_lock:
        _weights[key] = found
        while len(_weights) > _WEIGHTS_KEPT:
            _weights.popitem(last=False)
    return found


def _contiguity_weights(polygons: NDArray[np.object_], plane: MetricPlane) -> tuple[object, str]:
    """Queen contiguity of the grid polygons, or a distance band if some grid touches none.

    Grids are a seamless tiling, so Queen normally works; a grid left without
    neighbours (a gap from digitising) would make Gi* meaningless for it, so
    then every grid gets the neighbours within the smallest distance (metres,
    between representative points on ``plane``) that leaves none alone.
    Returns (weights, "queen" | "distance_band <m> m").
    """
    import geopandas as gpd
    from libpysal.weights import DistanceBand, Queen, min_threshold_distance

    frame = gpd.GeoDataFrame(geometry=polygons, crs=STORAGE_SRID)
    w = Queen.from_dataframe(frame, use_index=False, silence_warnings=True)
    if not w.islands:
        return w, "queen"
    pts = shapely.get_coordinates(shapely.point_on_surface(polygons))
    xy = plane.to_plane(pts[:, 0], pts[:, 1])
    threshold = float(min_threshold_distance(xy)) * 1.0001
    band = DistanceBand(xy, threshold=threshold, binary=True, silence_warnings=True)
    return band, f"distance_band {threshold:.0f} m"


def hot_spots(
    conn: Connection,
    start: Moment,
    end: Moment,
    category: str | None = None,
    permutations: int = 999,
    seed: int = 20251101,
    inference: Inference = "normal",
    areas: AreaTables | None = None,
    within: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Per current grid: households, received, rate per 1,000 households and Gi*.

    Gi* columns: ``gi_z`` (standard deviations), ``p_norm`` (two-sided normal
    p-value), ``p_sim`` (two-sided pseudo p-value of ``permutations``
    conditional permutations drawn from ``seed``) and ``hot_spot``, the class
    from ``gi_z`` and the p-value ``inference`` names (see ``gi_star`` for why
    "normal" is the default). Gi* runs on the rate so that a grid is hot
    because its households report more, not because it has more households; a
    grid without households enters the test with rate 0 (its
    ``per_1000_households`` stays NaN). ``df.attrs`` holds ``weights`` (which
    neighbourhood was used) and ``inference``.
    """
    if inference not in ("permutation", "normal"):
        raise InvalidParameterError("inference must be 'normal' or 'permutation'")
    if permutations < 99:
        raise InvalidParameterError(
            "permutations must be at least 99 (999 gives two-sided p-values down to 0.002)"
        )
    areas = areas or load_areas(conn)
    counts = load_grid_counts(conn, areas, start, end, category, workflow=False)
    polygons = _load_grid_polygons(conn, areas)
    weights, kind = contiguity_weights(polygons, MetricPlane.around(areas.centre_lon))
    rate = per_1000(counts.received, counts.households)
    gi = gi_star(np.nan_to_num(rate, nan=0.0), weights, permutations, seed, inference)
    df = pd.DataFrame(
        {
            "code": areas.grid_codes,
            "name": areas.grid_names,
            "community_code": [areas.community_codes[c] for c in areas.community_of_grid],
            "households": counts.households,
            "received": counts.received,
            "per_1000_households": rate,
            "gi_z": gi.z,
            "p_norm": gi.p_norm,
            "p_sim": gi.p_sim,
            "hot_spot": gi.label,
        }
    )
    df.attrs["weights"] = kind
    df.attrs["inference"] = inference
    df.attrs["incidents_without_grid"] = counts.without_grid
    return rows_within(df, within)
