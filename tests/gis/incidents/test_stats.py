"""Incident statistics on the demo district (read-only) and by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from gis.errors import InvalidParameterError
from gis.incidents.hotspots import hot_spots
from gis.incidents.stats import (
    HOURS_COLUMNS,
    RATE_COLUMNS,
    closed_loop_rates,
    incident_counts,
    ratio,
    to_csv,
)
from gis.localtime import CITY_TZ as TIMEZONE

YEAR = (dt.date(2025, 11, 1), dt.date(2026, 11, 1))  # the demo's year, half-open
SEED = 7


def test_year_totals_equal_a_plain_count(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        n, closed, cancelled = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE status IN ('closed', 'evaluated')),"
                " count(*) FILTER (WHERE status = 'cancelled') FROM incident"
                " WHERE reported_at >= '2025-11-01 00:00+08'"
                " AND reported_at < '2026-11-01 00:00+08'"
            )
        ).one()
        disputes = conn.execute(
            text("SELECT count(*) FROM incident WHERE category = 'dispute'")
        ).scalar_one()
        hh = conn.execute(text("SELECT sum(households) FROM grid WHERE valid_to IS NULL")).scalar()
        district = incident_counts(conn, *YEAR, level="district")
        grids = incident_counts(conn, *YEAR, level="grid")
    row = district.iloc[0]
    assert n > 3000  # the demo's year holds about 4,000 incidents
    assert (row["code"], row["received"], row["closed"], row["cancelled"]) == (
        "370705",
        n,
        closed,
        cancelled,
    )
    assert row["households"] == hh
    assert row["open"] == n - closed - cancelled
    assert row["dispute"] == disputes  # Kuiwen reports 760 disputes a year
    assert 600 < disputes < 900
    assert district.attrs["incidents_without_grid"] == 0
    categories = ["city_appearance", "street_order", "dispute", "petition", "help_request"]
    assert set(categories) <= set(district.columns)
    # Every current grid is a row, with zeros where nothing happened; categories add up.
    assert len(grids) == 400 and grids["code"].is_unique
    cat_cols = list(grids.columns[grids.columns.get_loc("per_1000_households") + 1 :])
    assert (grids[cat_cols].sum(axis=1) == grids["received"]).all()


def test_per_1000_households_is_received_over_households(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        for level in ("grid", "community", "subdistrict", "district"):
            df = incident_counts(conn, *YEAR, level=level)
            assert (df["households"] > 0).all()
            expected = df["received"] * 1000 / df["households"]
            np.testing.assert_allclose(df["per_1000_households"], expected, rtol=1e-12)
    # Demo: ~4,000 incidents over ~100,000 households.
    assert 30 < df["per_1000_households"].iloc[0] < 60


def test_roll_ups_add_up_to_the_district(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        tables = {
            lvl: incident_counts(conn, *YEAR, level=lvl)
            for lvl in ("grid", "community", "subdistrict", "district")
        }
        plain = conn.execute(
            text(
                "SELECT c.code, count(i.id) FROM admin_area c"
                " JOIN grid g ON g.community_id = c.id AND g.valid_to IS NULL"
                " LEFT JOIN incident i ON i.grid_id = g.id GROUP BY c.code"
            )
        ).all()
    assert [len(t) for t in tables.values()] == [400, 137, 10, 1]
    # Counts add up; rates and means do not (they are recomputed from the sums at each level).
    derived = ["per_1000_households", *RATE_COLUMNS, *HOURS_COLUMNS]
    numeric = tables["district"].select_dtypes("number").columns.drop(derived)
    for lvl in ("grid", "community", "subdistrict"):
        sums = tables[lvl][numeric].sum()
        assert (sums == tables["district"][numeric].iloc[0]).all(), lvl
    community = tables["community"].set_index("code")["received"]
    assert community.to_dict() == {code: n for code, n in plain}
    # Each community's grids are the grids whose code starts with the community code.
    grids = tables["grid"]
    by_prefix = grids.groupby(grids["code"].str[:12])["received"].sum()
    assert by_prefix.to_dict() == community.to_dict()


def test_a_period_and_a_category_filter(demo_engine: Engine) -> None:
    # Half-open and in Beijing time: January 2026 counted the way the database would.
    jan = (dt.date(2026, 1, 1), dt.datetime(2026, 2, 1, 0, 0))
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE category = 'street_order'"
                " AND reported_at >= '2026-01-01 00:00+08' AND reported_at < '2026-02-01 00:00+08'"
            )
        ).scalar_one()
        df = incident_counts(conn, *jan, level="subdistrict", category="street_order")
        aware = incident_counts(
            conn,
            dt.datetime(2025, 12, 31, 16, tzinfo=dt.UTC),
            dt.datetime(2026, 2, 1, tzinfo=TIMEZONE),
            level="district",
            category="street_order",
        )
    assert expected > 0
    assert df["received"].sum() == expected == aware["received"].iloc[0]
    assert list(df.columns[-1:]) == ["street_order"]
    assert (df["street_order"] == df["received"]).all()


def test_an_empty_period_gives_zeros(demo_engine: Engine) -> None:
    empty = (dt.date(2030, 1, 1), dt.date(2030, 2, 1))
    with demo_engine.connect() as conn:
        df = incident_counts(conn, *empty, level="community")
        hs = hot_spots(conn, *empty, permutations=99)
    assert len(df) == 137 and (df["received"] == 0).all() and (df["closed"] == 0).all()
    assert (df["per_1000_households"] == 0).all()
    assert len(hs) == 400 and (hs["hot_spot"] == "not significant").all()
    assert (hs["gi_z"] == 0).all() and (hs["p_norm"] == 1).all() and (hs["p_sim"] == 1).all()


def test_bad_parameters_are_explained(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        with pytest.raises(
            InvalidParameterError, match=r"unknown incident category 'noise'.*dispute"
        ):
            incident_counts(conn, *YEAR, category="noise")
        with pytest.raises(InvalidParameterError, match="unknown incident category"):
            hot_spots(conn, *YEAR, category="noise")
        with pytest.raises(InvalidParameterError, match="unknown level 'street'"):
            incident_counts(conn, *YEAR, level="street")
        with pytest.raises(InvalidParameterError, match="inference must be"):
            hot_spots(conn, *YEAR, inference="bayes")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="end must be after start"):
            incident_counts(conn, YEAR[1], YEAR[0])


def test_csv_export_opens_in_excel(demo_engine: Engine, tmp_path: Path) -> None:
    with demo_engine.connect() as conn:
        df = incident_counts(conn, *YEAR, level="community")
    path = to_csv(df, tmp_path / "communities.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads Chinese names right
    back = pd.read_csv(path, encoding="utf-8-sig", dtype={"code": str})
    assert back["name"].tolist() == df["name"].tolist()
    assert back["code"].tolist() == df["code"].tolist()
    assert back["received"].sum() == df["received"].sum()


# --------------------------------------------------------------------------- closed-loop rates


def test_rates_of_the_standards_monthly_example() -> None:
    """One city's month: 996 opened, 972 due, 911 closed = 93.72 %, 737 on time = 75.82 %."""
    rates = closed_loop_rates(
        received=[996, 10, 0],
        cancelled=[16, 2, 0],
        closed=[931, 6, 0],
        closed_in_period=[911, 5, 0],
        reworked=[46, 1, 0],
        due=[972, 4, 0],
        due_closed=[911, 3, 0],
        due_on_time=[737, 2, 0],
        on_the_spot=[0, 3, 0],
    )
    assert round(rates["closure_rate"][0] * 100, 2) == 93.72
    assert round(rates["on_time_rate"][0] * 100, 2) == 75.82
    assert rates["handling_rate"][0] == pytest.approx(931 / 980)  # 办结率 of the cohort
    assert rates["rework_rate"][0] == pytest.approx(46 / 911)
    assert [rates[k][1] for k in RATE_COLUMNS] == [0.75, 0.5, 0.75, 0.5, 0.2]
    assert all(np.isnan(rates[k][2]) for k in RATE_COLUMNS)  # nothing due, nothing received
    np.testing.assert_array_equal(ratio([1, 0, 3], [2, 0, 0]), [0.5, np.nan, np.nan])


@pytest.fixture(scope="module")
def year_levels(demo_engine: Engine) -> dict[str, pd.DataFrame]:
    with demo_engine.connect() as conn:
        return {lvl: incident_counts(conn, *YEAR, level=lvl) for lvl in LEVEL_NAMES}


LEVEL_NAMES = ("grid", "community", "subdistrict", "district")
WORKFLOW_COUNTS = [
    "accepted",
    "dispatched",
    "closed_in_period",
    "due",
    "due_closed",
    "due_on_time",
    "reworked",
    "escalations",
    "escalated_cases",
]


def test_workflow_counts_add_up_and_rates_are_rates(year_levels: dict[str, pd.DataFrame]) -> None:
    district = year_levels["district"].iloc[0]
    for lvl, df in year_levels.items():
        assert (df[WORKFLOW_COUNTS].sum() == district[WORKFLOW_COUNTS]).all(), lvl
        rates = df[list(RATE_COLUMNS)].to_numpy()
        assert np.nanmin(rates) >= 0 and np.nanmax(rates) <= 1, lvl
        assert (df[list(HOURS_COLUMNS)].fillna(0) >= 0).all().all(), lvl
        # Rolled up from the sums: a community's on-time rate weighs its grids by their cases.
        np.testing.assert_allclose(df["on_time_rate"], df["due_on_time"] / df["due"])
        np.testing.assert_allclose(
            df["handling_rate"], df["closed"] / (df["received"] - df["cancelled"])
        )
    grids = year_levels["grid"]
    assert district["on_time_rate"] != pytest.approx(grids["on_time_rate"].mean(), abs=1e-4)


def test_the_demo_year_in_figures(
    demo_engine: Engine, year_levels: dict[str, pd.DataFrame]
) -> None:
    """The district's year against plain SQL, and figures a city office would recognise."""
    with demo_engine.connect() as conn:
        due, on_time, verified, accept_h = conn.execute(
            text(
                """
                SELECT
                  (SELECT count(*) FROM incident WHERE deadline_at >= :s AND deadline_at < :e),
                  (SELECT count(*) FROM incident WHERE deadline_at >= :s AND deadline_at < :e
                     AND closed_at <= deadline_at),
                  (SELECT count(*) FROM incident_transition
                     WHERE action = 'verify' AND at >= :s AND at < :e),
                  (SELECT avg(extract(epoch FROM a.at - r.at)) / 3600
                     FROM incident_transition a JOIN incident_transition r
                       ON r.incident_id = a.incident_id AND r.action = 'reported'
                     WHERE a.action = 'accept' AND a.at >= :s AND a.at < :e)
                """
            ),
            {"s": "2025-11-01 00:00+08", "e": "2026-11-01 00:00+08"},
        ).one()
    row = year_levels["district"].iloc[0]
    assert (row["due"], row["due_on_time"], row["closed_in_period"]) == (due, on_time, verified)
    assert row["hours_reported_accepted"] == pytest.approx(float(accept_h))
    # Disputes settled on the spot (当场办结, a few hundred) had no deadline, so are due never.
    assert 3000 < row["due"] < 4100 and 3500 < row["closed_in_period"] < 4100
    assert 0.75 < row["on_time_rate"] < 0.9
    assert 0.95 < row["closure_rate"] <= 1
    assert 0.9 < row["handling_rate"] <= 1
    assert 0.05 < row["rework_rate"] < 0.09
    assert 0 < row["escalated_cases"] <= row["escalations"] < 0.3 * row["received"]
    hours = row[list(HOURS_COLUMNS)]
    assert hours.notna().all() and (hours > 0).all()
    # Grids differ in keeping deadlines (community and grid effects of the generator).
    busy = year_levels["grid"].query("due >= 5")["on_time_rate"]
    assert busy.quantile(0.1) < 0.7 and busy.quantile(0.9) > 0.95


def test_workflow_measures_of_a_month_and_a_category(demo_engine: Engine) -> None:
    march = (dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    with demo_engine.connect() as conn:
        month = incident_counts(conn, *march, level="district").iloc[0]
        streets = incident_counts(conn, *march, level="district", category="street_order").iloc[0]
        esc = conn.execute(
            text(
                "SELECT count(*) FROM incident_transition t JOIN incident i ON i.id = t.incident_id"
                " WHERE t.action = 'escalate' AND i.category = 'street_order'"
                " AND t.at >= '2026-03-01 00:00+08' AND t.at < '2026-04-01 00:00+08'"
            )
        ).scalar_one()
    assert 0 < streets["due"] < month["due"]
    assert streets["escalations"] == esc
    # The 2-working-hour street-order limit is missed more often than the average limit.
    assert streets["on_time_rate"] < month["on_time_rate"]
    assert month["closure_rate"] >= month["on_time_rate"]


def test_the_demo_mediation_figures(demo_engine: Engine) -> None:
    """Disputes of the demo year: most closed ones settled on the spot (当场办结率, on the spot
    / closed), beside the handling rate (办结率, a mediation centre's 调处率); none of the
    other categories is settled so (seed 003's centre: 82.13 % and 84.82 %)."""
    with demo_engine.connect() as conn:
        disputes = incident_counts(conn, *YEAR, level="district", category="dispute").iloc[0]
        everything = incident_counts(conn, *YEAR, level="district").iloc[0]
        stored = conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE on_the_spot AND status IN"
                " ('closed', 'evaluated') AND reported_at >= :s AND reported_at < :e"
            ),
            {"s": "2025-11-01 00:00+08", "e": "2026-11-01 00:00+08"},
        ).scalar_one()
    assert disputes["on_the_spot"] == everything["on_the_spot"] == stored > 100
    assert 0.4 < disputes["on_the_spot_rate"] < 0.9
    assert 0.85 < disputes["handling_rate"] <= 1
    assert everything["on_the_spot_rate"] < disputes["on_the_spot_rate"]
