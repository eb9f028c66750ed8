"""The field app on the demo district: a grid manager's grid with the streets and names of
the offline base map under it, as a new user sees it at 390 × 844 and on a desktop.

``test_field_app.py`` takes cases round the loop on a small lattice district of its own;
here the demo's busiest grid (its many open cases, its buildings, the streets along its
edges) is the page under test, the screenshots the closing note of issue 11 lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.accounts import DEMO_PASSWORD
from tests.web.browser import PHONE, login_state, open_page

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "field"
DESKTOP = {"width": 1440, "height": 900}
READY = "() => document.documentElement.dataset.gmReady === '1'"
DRAWN = "() => document.documentElement.dataset.gmBasemap === 'drawn'"


def busiest_grid(engine: Engine) -> tuple[str, int]:
    """The demo grid with the most open cases, and how many."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT g.code, count(*) AS n FROM incident i JOIN grid g ON g.id = i.grid_id"
                " WHERE i.status NOT IN ('cancelled', 'closed', 'evaluated')"
                " AND i.duplicate_of IS NULL GROUP BY g.code ORDER BY n DESC, g.code LIMIT 1"
            )
        ).one()
    return str(row.code), int(row.n)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_my_grid_on_the_demo_has_its_cases_over_named_streets(
    browser: Any, live_server: str, demo_engine: Engine, viewport: dict[str, int]
) -> None:
    code, open_cases = busiest_grid(demo_engine)
    state = login_state(browser, live_server, f"grid-{code}", DEMO_PASSWORD)
    with open_page(browser, state, viewport=viewport) as (tab, log):
        tab.goto(f"{live_server}/my")
        tab.wait_for_function(READY, timeout=30000)
        assert tab.url == f"{live_server}/grid/{code}"
        tab.wait_for_function(DRAWN, timeout=30000)
        tab.wait_for_load_state("networkidle")
        cards = tab.locator("#gm-list .gm-card")
        assert cards.count() == open_cases
        assert tab.locator("#gm-list .gm-card.gm-t-overdue").count() >= 1
        assert tab.locator("#gm-month").is_visible()
        assert log.errors == [] and log.foreign_requests() == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"my-grid-demo-{viewport['width']}.png"))
