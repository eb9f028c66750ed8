"""Incidents as Open311 service requests: the seven states seen as open or closed."""

from __future__ import annotations

from gis.incidents import open311 as sr
from gis.incidents.workflow import State


def test_seven_states_collapse_to_open_and_closed() -> None:
    closed = {s for s in State if sr.open_or_closed(s) == "closed"}
    assert closed == {State.CANCELLED, State.CLOSED, State.EVALUATED}
    assert sr.open_or_closed(State.FEEDBACK) == "open"
