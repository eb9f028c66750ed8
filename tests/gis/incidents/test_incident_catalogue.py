"""The incident category catalogue."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gis.errors import InvalidFeatureError
from gis.incidents.catalogue import (
    CATEGORIES,
    GB_EVENT_CLASSES,
    UnknownCategoryError,
    category,
    deadline_for,
    find,
    subclasses,
    top_level,
)
from gis.incidents.workcalendar import add_working_time

DEMO_CODES = (
    "city_appearance",
    "advertising",
    "construction",
    "street_order",
    "emergency",
    "dispute",
    "petition",
    "safety_hazard",
    "help_request",
)


def test_demo_generator_codes_are_top_level_categories() -> None:
    codes = {c.code for c in top_level()}
    assert set(DEMO_CODES) <= codes
    assert codes == {*DEMO_CODES, "extension"}


def test_codes_and_names_are_unique() -> None:
    assert len({c.code for c in CATEGORIES}) == len(CATEGORIES)
    assert len({c.name_zh for c in CATEGORIES}) == len(CATEGORIES)


def test_event_classes_and_parents_are_consistent() -> None:
    for c in CATEGORIES:
        if c.is_top_level:
            expected = c.code if c.code in GB_EVENT_CLASSES else "social_governance"
            assert c.event_class == expected, c.code
        else:
            parent = category(c.parent or "")
            assert parent.is_top_level
            assert c.event_class == parent.event_class
        assert c.deadline.amount > 0
        assert c.norm_source.strip()
        assert "reported" in c.norm_source or "local practice" in c.norm_source, c.code
    for cls in GB_EVENT_CLASSES[:5]:
        assert subclasses(cls), cls


def test_known_deadlines() -> None:
    assert str(deadline_for("exposed_garbage")) == "4 working hours"
    assert str(deadline_for("road_not_clean")) == "2 working hours"
    assert str(deadline_for("green_space_damage")) == "5 working days"
    assert str(deadline_for("dispute")) == "5 working days"
    assert not deadline_for("emergency").working
    assert deadline_for("petition").as_kwargs() == {"days": 60}


def test_deadline_feeds_the_work_calendar() -> None:
    start = dt.datetime(2025, 11, 21, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    due = add_working_time(start, **deadline_for("exposed_garbage").as_kwargs())
    assert due == dt.datetime(2025, 11, 24, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_unknown_code_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(UnknownCategoryError, match="city_appearance, advertising") as info:
        category("graffiti")
    assert isinstance(info.value, InvalidFeatureError)
    with pytest.raises(UnknownCategoryError):
        subclasses("nope")


def test_lookup_by_chinese_name() -> None:
    found = find("暴露垃圾")
    assert found is not None and found.parent == "city_appearance"
    assert find("不存在") is None
