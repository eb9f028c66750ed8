"""Geofences: how far outside their safe area each report puts a person, and when that
becomes an alarm (pure: arrays in, arrays and events out).

A person's safe area is a polygon (``person.safe_area``) or, by default, a circle of
``safe_radius_m`` around their home building. A phone's GPS wanders by tens of metres,
more near tall buildings, so a single report just over the line must not raise an
alarm, and the next one just inside must not clear it (flapping). Two rules keep
the state steady:

- **a margin**: a report counts as *outside* only when it lies more than
  ``margin_m`` beyond the fence, and as *inside* only when it lies within the
  fence; between the two it says nothing (``BAND``);
- **confirmation**: the state changes only after ``confirm`` reports in a row
  say so. A report saying the opposite resets the count; one in the band leaves
  it where it is; one whose stated accuracy is worse than ``max_accuracy_m``
  says nothing.

Distances are computed on a Gauss-Krüger plane (``gis.geo.metric``), whose
scale error (6 cm per km in the demo district) is far below the margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import shapely
from numpy.typing import NDArray

INSIDE_STATE = "inside"
OUTSIDE_STATE = "outside"


class Verdict(IntEnum):
    """What one report says about its fence."""

    INSIDE = -1
    BAND = 0
    OUTSIDE = 1


@dataclass(frozen=True)
class FenceRules:
    """The hysteresis: ``margin_m`` (metres beyond the fence before a report counts as
    outside), ``confirm`` (reports in a row that change the state), ``max_accuracy_m``
    (reports vaguer than this do not count)."""

    margin_m: float = 25.0
    confirm: int = 2
    max_accuracy_m: float = 100.0


@dataclass(frozen=True)
class Fences:
    """The fences of a batch's reports, one row per report, on one metric plane.

    ``centre_x``/``centre_y``/``radius`` describe circle fences; ``polygon`` holds
    a shapely polygon where the fence is one (``None`` elsewhere, and then the
    circle applies). Reports without a fence (a worker's device) have NaN radius.
    """

    centre_x: NDArray[np.float64]
    centre_y: NDArray[np.float64]
    radius: NDArray[np.float64]
    polygon: NDArray[np.object_]


def outside_by(
    fences: Fences, x: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Metres each report lies outside its fence: positive outside, zero or negative
    inside (a circle gives the negative depth, a polygon zero), NaN without a fence."""
    out = np.hypot(x - fences.centre_x, y - fences.centre_y) - fences.radius
    has_polygon = np.fromiter((p is not None for p in fences.polygon), bool, len(fences.polygon))
    if has_polygon.any():
        points = shapely.points(x[has_polygon], y[has_polygon])
        polygons = fences.polygon[has_polygon]
        out[has_polygon] = shapely.distance(polygons, points)
    return out


def verdicts(
    outside_m: NDArray[np.float64],
    accuracy_m: NDArray[np.float64],
    rules: FenceRules,
) -> NDArray[np.int8]:
    """``Verdict`` per report from its distance outside and its stated accuracy (NaN:
    not stated, taken as good enough)."""
    verdict = np.zeros(outside_m.shape, dtype=np.int8)
    verdict[outside_m > rules.margin_m] = Verdict.OUTSIDE
    verdict[outside_m <= 0.0] = Verdict.INSIDE
    vague = accuracy_m > rules.max_accuracy_m  # NaN compares False: counts
    verdict[vague | np.isnan(outside_m)] = Verdict.BAND
    return verdict


@dataclass
class FenceState:
    """A device's state and how many reports in a row have contradicted it."""

    state: str = INSIDE_STATE
    streak: int = 0


def advance(
    state: FenceState, verdicts_in_order: Sequence[int], rules: FenceRules
) -> list[tuple[int, str]]:
    """Feeds one device's verdicts (in time order) through its state; returns the
    positions (in ``verdicts_in_order``) where the state changed, and to what.

    ``state`` is updated in place: what the device row keeps for the next batch.
    """
    changes: list[tuple[int, str]] = []
    for i, verdict in enumerate(verdicts_in_order):
        if verdict == Verdict.BAND:
            continue
        against = (verdict == Verdict.OUTSIDE) == (state.state == INSIDE_STATE)
        if not against:
            state.streak = 0
            continue
        state.streak += 1
        if state.streak >= rules.confirm:
            state.state = OUTSIDE_STATE if state.state == INSIDE_STATE else INSIDE_STATE
            state.streak = 0
            changes.append((i, state.state))
    return changes
