"""gis.care.fences: distances outside circle and polygon fences, and the hysteresis."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given
from hypothesis import strategies as st

from gis.care.fences import (
    INSIDE_STATE,
    OUTSIDE_STATE,
    FenceRules,
    Fences,
    FenceState,
    Verdict,
    advance,
    outside_by,
    verdicts,
)

RULES = FenceRules(margin_m=25.0, confirm=2, max_accuracy_m=100.0)


def circle_fences(n: int, radius: float = 300.0) -> Fences:
    return Fences(np.zeros(n), np.zeros(n), np.full(n, radius), np.full(n, None, dtype=object))


def test_a_circle_measures_from_home() -> None:
    out = outside_by(circle_fences(3), np.array([100.0, 300.0, 0.0]), np.array([0.0, 400.0, 0.0]))
    assert np.allclose(out, [-200.0, 200.0, -300.0])


def test_a_polygon_measures_from_its_outline_and_is_zero_inside() -> None:
    square = shapely.box(0, 0, 100, 100)
    fences = Fences(
        np.zeros(3), np.zeros(3), np.full(3, 300.0), np.array([square, square, None], dtype=object)
    )
    out = outside_by(fences, np.array([50.0, 130.0, 130.0]), np.array([50.0, 50.0, 50.0]))
    # inside the square; 30 m east of it; the third has no polygon: its circle decides
    assert np.allclose(out, [0.0, 30.0, np.hypot(130.0, 50.0) - 300.0])


def test_the_margin_and_the_accuracy_decide_what_a_report_says() -> None:
    out = np.array([-5.0, 0.0, 10.0, 25.0, 26.0, 500.0, 500.0, np.nan])
    acc = np.array([5.0, 5.0, 5.0, 5.0, np.nan, 5.0, 150.0, 5.0])
    assert verdicts(out, acc, RULES).tolist() == [
        Verdict.INSIDE,
        Verdict.INSIDE,
        Verdict.BAND,
        Verdict.BAND,
        Verdict.OUTSIDE,
        Verdict.OUTSIDE,
        Verdict.BAND,  # stated accuracy 150 m: says nothing
        Verdict.BAND,  # no fence (a worker's device)
    ]


def test_leaving_needs_two_reports_in_a_row_and_returning_too() -> None:
    state = FenceState()
    o, i, b = Verdict.OUTSIDE, Verdict.INSIDE, Verdict.BAND
    assert advance(state, [o, i, o, b, i], RULES) == []  # an inside report resets the count
    assert advance(state, [o, b, o], RULES) == [(2, OUTSIDE_STATE)]  # band neither resets
    assert (state.state, state.streak) == (OUTSIDE_STATE, 0)
    assert advance(state, [i, o, i, i], RULES) == [(3, INSIDE_STATE)]
    assert (state.state, state.streak) == (INSIDE_STATE, 0)


def test_the_streak_carries_over_batches() -> None:
    state = FenceState()
    assert advance(state, [Verdict.OUTSIDE], RULES) == []
    assert state.streak == 1
    assert advance(state, [Verdict.OUTSIDE], RULES) == [(0, OUTSIDE_STATE)]


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=60))
def test_noise_at_the_edge_never_raises_an_alarm(offsets: list[float]) -> None:
    """GPS wandering ±50 m around a fence line: the alarm fires exactly when two reports
    that count (not in the band) lie beyond the margin one after the other, never on
    one stray report."""
    out = np.array(offsets)
    said = verdicts(out, np.full(len(out), 5.0), RULES)
    changes = advance(FenceState(), said.tolist(), RULES)
    counted = [v for v in said.tolist() if v != Verdict.BAND]
    two_out = any(
        counted[k] == Verdict.OUTSIDE and counted[k + 1] == Verdict.OUTSIDE
        for k in range(len(counted) - 1)
    )
    assert bool(changes) == two_out
