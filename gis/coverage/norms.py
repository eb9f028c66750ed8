"""Per-community norm checks from the seed articles, and the health-station claim.

Floor area per 100 households (seed 002), households per grid manager and per
community worker (seed 004), a social-work station of 50 m² (seed 001), a
health station in every community (seed 000); each norm's reading is in
``docs/coverage.md``. The facts are read with SQL (``load_community_facts``),
the checks are pure (``evaluate_norms``), so a planner can re-run them on
edited figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from gis.coverage.catalogue import CoverageMethod
from gis.coverage.report import area_rollups
from gis.coverage.store import CoverageModel, build_coverage
from gis.lang import Texts
from gis.settings import HouseholdNormSettings

FLOOR_AREA_M2_PER_100_HOUSEHOLDS = 60.0
HOUSEHOLDS_PER_GRID_MANAGER = 200
HOUSEHOLDS_PER_COMMUNITY_WORKER = 300
"""The seeds' figures: the defaults of ``HouseholdNormSettings`` (``GRIDMAP_NORM_*``)."""
SOCIAL_WORK_STATION_MIN_M2 = 50.0
SERVICE_FLOOR_TYPES: tuple[str, ...] = ("community_service_centre",)
HEALTH_STATION = "community_health_station"
SOCIAL_WORK_STATION = "social_work_station"

FACT_COLUMNS = [
    "code",
    "name",
    "subdistrict_code",
    "subdistrict_name",
    "households",
    "grids",
    "grid_managers",
    "community_workers",
    "service_floor_m2",
    "health_stations",
    "social_work_station_m2",
]

_FACTS_SQL = """
WITH comm AS (
    SELECT c.id, c.code, c.name,
           CASE WHEN p.level = 'subdistrict' THEN p.code END AS subdistrict_code,
           CASE WHEN p.level = 'subdistrict' THEN p.name END AS subdistrict_name
    FROM admin_area c JOIN admin_area p ON p.id = c.parent_id
    WHERE c.level = 'community' AND c.valid_to IS NULL
),
grids AS (
    SELECT community_id, count(*) AS grids, sum(households) AS households
    FROM grid WHERE valid_to IS NULL GROUP BY community_id
),
managers AS (
    SELECT g.community_id, count(DISTINCT sg.staff_id) AS n
    FROM staff_grid sg
    JOIN staff s ON s.id = sg.staff_id AND s.role = 'grid_manager'
    JOIN grid g ON g.id = sg.grid_id AND g.valid_to IS NULL
    GROUP BY g.community_id
),
workers AS (
    SELECT community_id, count(DISTINCT staff_id) AS n FROM (
        SELECT s.community_id, s.id AS staff_id FROM staff s
        WHERE s.role = 'community_worker' AND s.community_id IS NOT NULL
        UNION
        SELECT g.community_id, sg.staff_id FROM staff_grid sg
        JOIN staff s ON s.id = sg.staff_id AND s.role = 'community_worker'
        JOIN grid g ON g.id = sg.grid_id AND g.valid_to IS NULL
    ) w GROUP BY community_id
),
fac AS (
    SELECT f.type_code, f.floor_area_m2, c.id AS community_id
    FROM facility f
    JOIN LATERAL (
        SELECT a.id FROM admin_area a
        WHERE a.level = 'community' AND a.valid_to IS NULL AND ST_Covers(a.geom, f.geom)
        ORDER BY a.code LIMIT 1
    ) c ON true
),
rooms AS (
    SELECT community_id,
           sum(COALESCE(floor_area_m2, 0))
               FILTER (WHERE type_code = ANY(:service_types)) AS service_floor_m2,
           count(*) FILTER (WHERE type_code = :health) AS health_stations,
           max(floor_area_m2) FILTER (WHERE type_code = :social) AS social_work_station_m2
    FROM fac GROUP BY community_id
)
SELECT comm.code, comm.name, comm.subdistrict_code, comm.subdistrict_name,
       COALESCE(grids.households, 0), COALESCE(grids.grids, 0),
       COALESCE(managers.n, 0), COALESCE(workers.n, 0),
       COALESCE(rooms.service_floor_m2, 0), COALESCE(rooms.health_stations, 0),
       rooms.social_work_station_m2
FROM comm
LEFT JOIN grids ON grids.community_id = comm.id
LEFT JOIN managers ON managers.community_id = comm.id
LEFT JOIN workers ON workers.community_id = comm.id
LEFT JOIN rooms ON rooms.community_id = comm.id
ORDER BY comm.code
"""


def load_community_facts(
    conn: Connection, service_types: Sequence[str] = SERVICE_FLOOR_TYPES
) -> pd.DataFrame:
    """What the norms need per current community (columns: ``FACT_COLUMNS``).

    Households are the sum over the community's current grids (kept equal to
    their buildings by the database); floor areas in m².
    """
    rows = conn.execute(
        text(_FACTS_SQL),
        {
            "service_types": list(service_types),
            "health": HEALTH_STATION,
            "social": SOCIAL_WORK_STATION,
        },
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=FACT_COLUMNS)
    for column in ("households", "grids", "grid_managers", "community_workers", "health_stations"):
        frame[column] = frame[column].astype(np.int64)
    for column in ("service_floor_m2", "social_work_station_m2"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


@dataclass(frozen=True)
class HouseholdNorms:
    """The ratios by households the checks apply: service floor area (m²) per 100
    households, households per grid manager and per community worker."""

    floor_m2_per_100_households: float = FLOOR_AREA_M2_PER_100_HOUSEHOLDS
    households_per_grid_manager: int = HOUSEHOLDS_PER_GRID_MANAGER
    households_per_community_worker: int = HOUSEHOLDS_PER_COMMUNITY_WORKER

    @classmethod
    def from_settings(cls, settings: HouseholdNormSettings | None = None) -> HouseholdNorms:
        s = settings or HouseholdNormSettings()
        return cls(
            s.floor_m2_per_100_households,
            s.households_per_grid_manager,
            s.households_per_community_worker,
        )


def _per(households: pd.Series, people: pd.Series) -> pd.Series:
    """Households per person; NaN where nobody is assigned."""
    return (households / people.where(people > 0)).astype(float)


def evaluate_norms(facts: pd.DataFrame, norms: HouseholdNorms | None = None) -> pd.DataFrame:
    """The norm checks on ``facts`` (as from ``load_community_facts``), one row per community,
    by ``norms`` (default: the settings, whose defaults are the seeds' 60 m², 200, 300).

    Adds: ``floor_m2_per_100_households``, ``floor_area_required_m2``,
    ``floor_area_shortfall_m2`` (0 when the norm is met), ``floor_area_ok``;
    ``households_per_grid_manager``, ``grid_managers_needed`` (for 200 each),
    ``grid_manager_ok``; ``households_per_community_worker``,
    ``community_workers_needed`` (for 300 each), ``community_worker_ok``;
    ``has_health_station``; ``social_work_station_ok``. A community without
    households meets every ratio; one with households and nobody assigned fails
    (its ratio is NaN).
    """
    norms = norms or HouseholdNorms.from_settings()
    out = facts.copy()
    hh = out["households"].astype(float)
    has_hh = out["households"] > 0
    out["floor_m2_per_100_households"] = (
        out["service_floor_m2"] / hh.where(has_hh) * 100.0
    ).astype(float)
    out["floor_area_required_m2"] = hh * norms.floor_m2_per_100_households / 100.0
    out["floor_area_shortfall_m2"] = (
        (out["floor_area_required_m2"] - out["service_floor_m2"]).clip(lower=0.0).round(1)
    )
    out["floor_area_ok"] = out["service_floor_m2"] >= out["floor_area_required_m2"] - 1e-9
    for role, norm in (
        ("grid_manager", norms.households_per_grid_manager),
        ("community_worker", norms.households_per_community_worker),
    ):
        people = out[f"{role}s"]
        ratio = _per(out["households"], people)
        out[f"households_per_{role}"] = ratio
        out[f"{role}s_needed"] = np.ceil(hh / norm).astype(np.int64)
        out[f"{role}_ok"] = ~has_hh | (ratio <= norm)
    out["has_health_station"] = out["health_stations"] > 0
    out["social_work_station_ok"] = out["social_work_station_m2"].fillna(0.0) >= (
        SOCIAL_WORK_STATION_MIN_M2
    )
    return out


def norm_checks(
    conn: Connection,
    service_types: Sequence[str] = SERVICE_FLOOR_TYPES,
    norms: HouseholdNorms | None = None,
) -> pd.DataFrame:
    """``evaluate_norms(load_community_facts(conn, service_types), norms)``."""
    return evaluate_norms(load_community_facts(conn, service_types), norms)


def norm_texts(norms: HouseholdNorms) -> tuple[tuple[str, str, str], ...]:
    """``(check column, norm, source)`` per check, with ``norms``' figures."""
    return (
        (
            "floor_area_ok",
            f"service floor area ≥ {norms.floor_m2_per_100_households:g} m² per 100 households",
            "seed 002 Tongguanshan",
        ),
        (
            "grid_manager_ok",
            f"≤ {norms.households_per_grid_manager} households per grid manager",
            "seed 004 Kuiwen",
        ),
        (
            "community_worker_ok",
            f"≤ {norms.households_per_community_worker} households per community worker",
            "seed 004 Kuiwen",
        ),
        ("has_health_station", "a community health station in the community", "seed 000 Futian"),
        ("social_work_station_ok", "a social-work station of ≥ 50 m²", "seed 001 Chaoyang"),
    )


def norm_texts_zh(norms: HouseholdNorms) -> dict[str, tuple[str, str]]:
    """The norms of ``norm_texts`` and their sources in Chinese, by check column."""
    return {
        "floor_area_ok": (
            f"每百户服务用房面积 ≥ {norms.floor_m2_per_100_households:g} 平方米",
            "种子 002 铜官山",
        ),
        "grid_manager_ok": (
            f"每名网格员 ≤ {norms.households_per_grid_manager} 户",
            "种子 004 奎文",
        ),
        "community_worker_ok": (
            f"每名社区工作者 ≤ {norms.households_per_community_worker} 户",
            "种子 004 奎文",
        ),
        "has_health_station": ("社区内有社区卫生服务站", "种子 000 福田"),
        "social_work_station_ok": ("有一处 ≥ 50 平方米的社工站", "种子 001 朝阳"),
    }


NORMS: tuple[tuple[str, str, str], ...] = norm_texts(HouseholdNorms())
"""The checks with the seeds' figures (``norm_texts`` gives them with other figures)."""
NORMS_ZH: dict[str, tuple[str, str]] = norm_texts_zh(HouseholdNorms())
"""``NORMS`` in Chinese, by check column."""


def norm_summary(checks: pd.DataFrame, norms: HouseholdNorms | None = None) -> pd.DataFrame:
    """One row per norm: communities checked, failing, and the share that passes (0-1);
    ``norm_zh`` and ``source_zh`` say the norm and its source in Chinese. ``norms``: the
    figures the checks applied (default: the settings), for the texts."""
    norms = norms or HouseholdNorms.from_settings()
    texts_zh = norm_texts_zh(norms)
    n = len(checks)
    rows = []
    for column, norm, source in norm_texts(norms):
        failing = int((~checks[column].astype(bool)).sum())
        rows.append(
            {
                "norm": norm,
                "source": source,
                "norm_zh": texts_zh[column][0],
                "source_zh": texts_zh[column][1],
                "column": column,
                "communities": n,
                "failing": failing,
                "pass_rate": (n - failing) / n if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ClaimResult:
    """Does "every community has a community health station" hold, and where not?

    ``without_station``: communities with no health station inside their
    outline. ``without_coverage``: communities with households of which none is
    within ``radius_m`` of any health station (also those of neighbours).
    ``coverage``: the community roll-up at ``radius_m``; ``coverage_rate`` is
    the district's household-weighted rate (0-1).
    """

    claim: str
    communities: int
    without_station: pd.DataFrame
    without_coverage: pd.DataFrame
    coverage: pd.DataFrame
    radius_m: float
    coverage_rate: float
    method: CoverageMethod = "circle"
    """``circle``: households within the radius as the crow flies; ``network``: within a
    walk of it over the walking network."""

    @property
    def holds(self) -> bool:
        """The claim as worded: every community has a station of its own."""
        return self.without_station.empty

    @property
    def holds_by_radius(self) -> bool:
        """The looser reading: every community has households within a station's radius."""
        return self.without_coverage.empty

    @property
    def fully_covered(self) -> int:
        """Communities whose every household is within the radius."""
        c = self.coverage
        return int(((c["households"] > 0) & (c["households_uncovered"] == 0)).sum())

    def summary(self) -> str:
        verdict = "holds" if self.holds else "does not hold"
        lines = [
            f"Claim: {self.claim}: {verdict} "
            f"({self.communities - len(self.without_station)} of {self.communities} communities "
            "have a station).",
            f"Households within {self._reach_en()} of a health station: "
            f"{self.coverage_rate:.2%}; communities fully covered: {self.fully_covered}; "
            f"communities with no household covered: {len(self.without_coverage)}.",
        ]
        if not self.without_station.empty:
            names = ", ".join(
                f"{r.name} ({r.code})" for r in self.without_station.itertuples(index=False)
            )
            lines.append(f"Without a station: {names}.")
        return "\n".join(lines)

    def _reach_en(self) -> str:
        return f"a {self.radius_m:g} m walk" if self.method == "network" else f"{self.radius_m:g} m"

    def _reach_zh(self) -> str:
        return (
            f"步行 {self.radius_m:g} 米" if self.method == "network" else f" {self.radius_m:g} 米"
        )

    def summary_texts(self) -> Texts:
        """:meth:`summary` in Chinese and English."""
        verdict = "成立" if self.holds else "不成立"
        with_station = self.communities - len(self.without_station)
        lines = [
            f"论断：每个社区都有社区卫生服务站：{verdict}"
            f"（{self.communities} 个社区中 {with_station} 个有服务站）。",
            f"距卫生服务站{self._reach_zh()}内的户数占比：{self.coverage_rate:.2%}；"
            f"完全覆盖的社区：{self.fully_covered} 个；"
            f"无一户覆盖的社区：{len(self.without_coverage)} 个。",
        ]
        if not self.without_station.empty:
            names = "、".join(
                f"{r.name}（{r.code}）" for r in self.without_station.itertuples(index=False)
            )
            lines.append(f"没有服务站的社区：{names}。")
        return Texts("\n".join(lines), self.summary())


def health_station_claim(
    conn: Connection,
    radius_m: float | None = None,
    *,
    model: CoverageModel | None = None,
    checks: pd.DataFrame | None = None,
    method: CoverageMethod = "circle",
) -> ClaimResult:
    """Check seed 000's claim on the current data; ``radius_m`` defaults to the catalogue's.

    Pass ``model`` (health-station coverage, whose method then applies) or
    ``checks`` (``norm_checks``) to reuse what is already loaded; ``method="network"``
    counts households within a walk of the radius.
    """
    if model is None:
        if radius_m is None:
            radius_m = float(
                conn.execute(
                    text("SELECT radius_m FROM facility_type WHERE code = :c"),
                    {"c": HEALTH_STATION},
                ).scalar_one()
            )
        model = build_coverage(conn, HEALTH_STATION, radius_m, method=method)
    checks = checks if checks is not None else norm_checks(conn)
    coverage = area_rollups(model, "community")
    without_station = checks.loc[
        ~checks["has_health_station"], ["code", "name", "subdistrict_name", "households"]
    ].reset_index(drop=True)
    none_covered = (coverage["households"] > 0) & (coverage["households_covered"] == 0)
    without_coverage = coverage.loc[
        none_covered, ["code", "name", "households", "mean_distance_m"]
    ].reset_index(drop=True)
    district = area_rollups(model, "district")
    rate = float(district["coverage_rate"].iloc[0]) if len(district) else float("nan")
    return ClaimResult(
        claim="every community has a community health station (社区卫生服务站)",
        communities=len(checks),
        without_station=without_station,
        without_coverage=without_coverage,
        coverage=coverage,
        radius_m=float(model.index.radius_m),
        coverage_rate=rate,
        method=model.method,
    )
