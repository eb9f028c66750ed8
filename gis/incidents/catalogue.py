"""The catalogue of incident categories, the handling deadline of each, and the
supervision time limits (督办时限) of each level.

GB/T 30428.2 event classes and a few of their subclasses, and the social
governance cases of the seeds (disputes, petitions, safety hazards, help
requests). Each deadline says whether it counts working or calendar time and
where its figure comes from (``norm_source``). The table is data; everything
that lists categories reads it from here (``docs/incidents.md``).

``SUPERVISION`` gives each top-level category its intake limit (受理时限: a
report not accepted and dispatched within it goes up) and the time each level
above the grid has once a case reaches it (community, subdistrict, district)
before the escalation sweep raises it again. No national standard fixes these
figures; they are a local rule of thumb (``SUPERVISION_SOURCE``), to be set to
the city's own. A subclass takes its top-level category's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from gis.errors import InvalidFeatureError

EventClass = Literal[
    "city_appearance",
    "advertising",
    "construction",
    "street_order",
    "emergency",
    "extension",
    "social_governance",
]
DeadlineUnit = Literal["hours", "days"]

#: GB/T 30428.2 event classes (plus the local extension class), in the standard's order.
GB_EVENT_CLASSES: tuple[EventClass, ...] = tuple(
    c for c in get_args(EventClass) if c != "social_governance"
)


class UnknownCategoryError(InvalidFeatureError):
    """An incident names a category code the catalogue does not have."""


@dataclass(frozen=True)
class Deadline:
    """A handling time limit: ``amount`` hours or days, in working time unless ``working``=False.

    ``as_kwargs()`` gives the keyword for ``WorkCalendar.add_working_time``;
    a calendar-time deadline is simply ``timedelta(**as_kwargs())``.
    """

    amount: float
    unit: DeadlineUnit
    working: bool = True

    def as_kwargs(self) -> dict[str, float]:
        return {self.unit: self.amount}

    def __str__(self) -> str:
        amount = f"{self.amount:g}"
        kind = "working " if self.working else ""
        return f"{amount} {kind}{self.unit}"

    @property
    def zh(self) -> str:
        """In Chinese: 4个工作小时, 1个工作日, 2小时, 3天."""
        amount = f"{self.amount:g}"
        if self.working:
            return f"{amount}个工作{'小时' if self.unit == 'hours' else '日'}"
        return f"{amount}{'小时' if self.unit == 'hours' else '天'}"


@dataclass(frozen=True)
class Category:
    """One incident category; ``parent`` is the top-level code a subclass belongs to."""

    code: str
    name_zh: str
    name_en: str
    event_class: EventClass
    deadline: Deadline
    norm_source: str
    parent: str | None = None
    personal: bool = False
    """Reports of this category are about identifiable people (neighbours in a dispute, a
    petitioner, a person in need): where they are and what they said is personal data, for
    the people handling the case only (public interfaces such as Open311 do not show it)."""

    @property
    def is_top_level(self) -> bool:
        return self.parent is None


def _h(amount: float) -> Deadline:
    return Deadline(amount, "hours")


def _d(amount: int) -> Deadline:
    return Deadline(amount, "days")


_LOCAL = "local practice (default chosen here, not from a published table; set the city's own)"

CATEGORIES: tuple[Category, ...] = (
    # ---- GB/T 30428.2 event classes
    Category(
        "city_appearance",
        "市容环境",
        "City appearance and environment",
        "city_appearance",
        _d(1),
        f"GB/T 30428.2 event class. Class default 1 working day: {_LOCAL}.",
    ),
    Category(
        "exposed_garbage",
        "暴露垃圾",
        "Exposed garbage",
        "city_appearance",
        _h(4),
        "4 working hours: reported, one city's published deadline table (standards.md).",
        "city_appearance",
    ),
    Category(
        "road_not_clean",
        "道路不洁",
        "Road not clean",
        "city_appearance",
        _h(2),
        "2 working hours (road cleaning): reported, one city's published table (standards.md).",
        "city_appearance",
    ),
    Category(
        "overflowing_bins",
        "垃圾满溢",
        "Overflowing waste bins",
        "city_appearance",
        _h(4),
        f"4 working hours, as exposed garbage: {_LOCAL}.",
        "city_appearance",
    ),
    Category(
        "material_piling",
        "乱堆物堆料",
        "Materials piled in public space",
        "city_appearance",
        _d(1),
        f"1 working day: {_LOCAL}.",
        "city_appearance",
    ),
    Category(
        "green_space_damage",
        "绿地破损",
        "Damaged green space",
        "city_appearance",
        _d(5),
        "5 working days (green-space repair): reported, one city's published table (standards.md).",
        "city_appearance",
    ),
    Category(
        "advertising",
        "宣传广告",
        "Advertising and posting",
        "advertising",
        _d(1),
        f"GB/T 30428.2 event class. Class default 1 working day: {_LOCAL}.",
    ),
    Category(
        "illegal_flyers",
        "非法小广告",
        "Illegal flyers and graffiti",
        "advertising",
        _d(1),
        f"1 working day: {_LOCAL}.",
        "advertising",
    ),
    Category(
        "illegal_outdoor_ad",
        "违规户外广告",
        "Unauthorised outdoor advertising",
        "advertising",
        _d(5),
        f"5 working days (removal needs notice to the owner): {_LOCAL}.",
        "advertising",
    ),
    Category(
        "construction",
        "施工管理",
        "Construction management",
        "construction",
        _d(3),
        f"GB/T 30428.2 event class. Class default 3 working days: {_LOCAL}.",
    ),
    Category(
        "construction_noise",
        "施工扰民",
        "Construction disturbing residents",
        "construction",
        _d(1),
        f"1 working day: {_LOCAL}.",
        "construction",
    ),
    Category(
        "site_dust",
        "工地扬尘",
        "Dust from construction site",
        "construction",
        _d(1),
        f"1 working day: {_LOCAL}.",
        "construction",
    ),
    Category(
        "street_order",
        "街面秩序",
        "Street order",
        "street_order",
        _h(2),
        f"GB/T 30428.2 event class. Class default 2 working hours (street vending moves on "
        f"quickly, so a slow response finds nothing): {_LOCAL}.",
    ),
    Category(
        "road_occupying_business",
        "占道经营",
        "Business occupying the road",
        "street_order",
        _h(2),
        f"2 working hours: {_LOCAL}.",
        "street_order",
    ),
    Category(
        "illegal_parking",
        "机动车乱停放",
        "Illegally parked motor vehicle",
        "street_order",
        _h(2),
        f"2 working hours: {_LOCAL}.",
        "street_order",
    ),
    Category(
        "emergency",
        "突发事件",
        "Emergency",
        "emergency",
        Deadline(1, "hours", working=False),
        "GB/T 30428.2 event class. Emergencies follow the emergency plan (应急预案) around the "
        f"clock, so 1 hour of calendar time, not working time: {_LOCAL}.",
    ),
    Category(
        "road_collapse",
        "路面塌陷",
        "Road surface collapse",
        "emergency",
        Deadline(1, "hours", working=False),
        f"1 hour calendar time (make safe and cordon off): {_LOCAL}.",
        "emergency",
    ),
    Category(
        "gas_leak",
        "燃气泄漏",
        "Gas leak",
        "emergency",
        Deadline(1, "hours", working=False),
        f"1 hour calendar time (the gas company's emergency line responds at once): {_LOCAL}.",
        "emergency",
    ),
    Category(
        "extension",
        "扩展",
        "Local extension class",
        "extension",
        _d(5),
        f"Extension class the standard allows cities to add. 5 working days: {_LOCAL}.",
    ),
    # ---- social governance (seed articles)
    Category(
        "dispute",
        "矛盾纠纷",
        "Dispute",
        "social_governance",
        _d(5),
        "5 working days at grid level before a case that cannot be settled goes up the "
        "four-level linkage (seed 004): local practice. The Ministry of Justice's 人民调解"
        "工作若干规定 (2002) expects mediation to end within about one month in general "
        "(reported, not verified here).",
        personal=True,
    ),
    Category(
        "petition",
        "信访",
        "Petition",
        "social_governance",
        Deadline(60, "days", working=False),
        "60 calendar days from acceptance: reported from the 信访工作条例 (2022) and the "
        "earlier 信访条例 (2005) (article numbers not verified here); the law counts calendar "
        "days (日), not working days.",
        personal=True,
    ),
    Category(
        "safety_hazard",
        "安全隐患",
        "Safety hazard",
        "social_governance",
        _d(1),
        f"1 working day to check on site and make safe (fire lanes, e-bike charging in "
        f"stairwells): {_LOCAL}.",
    ),
    Category(
        "help_request",
        "困难求助",
        "Help request from a person in need",
        "social_governance",
        _d(1),
        "1 working day for a visit (elderly living alone, disabled, families in hardship; "
        f"seeds 002, 003); urgent calls go through the emergency terminal instead: {_LOCAL}.",
        personal=True,
    ),
)

_BY_CODE: Mapping[str, Category] = {c.code: c for c in CATEGORIES}


@dataclass(frozen=True)
class Supervision:
    """A top-level category's supervision limits (督办时限): ``intake`` from the report to
    dispatch (受理时限), then the time a case may stay at each level it is escalated to."""

    intake: Deadline
    community: Deadline
    subdistrict: Deadline
    district: Deadline

    def at_level(self, level: str) -> Deadline:
        """The limit of ``level`` (``community``, ``subdistrict`` or ``district``)."""
        limits = {
            "community": self.community,
            "subdistrict": self.subdistrict,
            "district": self.district,
        }
        try:
            return limits[level]
        except KeyError:
            raise InvalidFeatureError(
                f"no supervision limit for level {level!r}: a grid-level case runs on its "
                "intake limit, then its handling deadline"
            ) from None


SUPERVISION_SOURCE = (
    "local rule of thumb (no national standard fixes supervision limits per level; set the "
    "city's own): each level above gets about as long again as the level below had. "
    "Petitions: 15 calendar days to say whether a petition is accepted, as the 信访工作条例 "
    "(2022) is reported to require (article not verified here)."
)
"""Where the figures of ``SUPERVISION`` come from."""


def _wd(amount: float) -> Deadline:
    return Deadline(amount, "days")


def _cal_h(amount: float) -> Deadline:
    return Deadline(amount, "hours", working=False)


def _cal_d(amount: float) -> Deadline:
    return Deadline(amount, "days", working=False)


_WORKING_DEFAULT = Supervision(intake=_h(2), community=_wd(2), subdistrict=_wd(3), district=_wd(5))
SUPERVISION: Mapping[str, Supervision] = {
    "city_appearance": _WORKING_DEFAULT,
    "advertising": _WORKING_DEFAULT,
    "construction": Supervision(_h(2), _wd(3), _wd(5), _wd(10)),
    "street_order": Supervision(_h(1), _h(4), _wd(1), _wd(2)),
    "emergency": Supervision(_cal_h(0.25), _cal_h(2), _cal_h(4), _cal_h(8)),
    "extension": _WORKING_DEFAULT,
    "dispute": Supervision(_wd(1), _wd(5), _wd(10), _wd(15)),
    "petition": Supervision(_cal_d(15), _cal_d(15), _cal_d(15), _cal_d(30)),
    "safety_hazard": Supervision(_h(2), _wd(1), _wd(2), _wd(3)),
    "help_request": Supervision(_h(2), _wd(1), _wd(2), _wd(3)),
}
"""Supervision limits per top-level category code (``SUPERVISION_SOURCE``)."""
PERSONAL_CATEGORIES: frozenset[str] = frozenset(c.code for c in CATEGORIES if c.personal)
"""Codes whose reports are personal data (see ``Category.personal``)."""
_BY_NAME_ZH: Mapping[str, Category] = {c.name_zh: c for c in CATEGORIES}


def category(code: str) -> Category:
    """The category with ``code``; UnknownCategoryError lists the valid top-level codes."""
    try:
        return _BY_CODE[code]
    except KeyError:
        valid = ", ".join(c.code for c in top_level())
        raise UnknownCategoryError(
            f"unknown incident category {code!r}; top-level codes are: {valid} "
            "(subclass codes are listed by subclasses(code))"
        ) from None


def top_level() -> list[Category]:
    """Top-level categories: the GB/T 30428.2 event classes, then social governance."""
    return [c for c in CATEGORIES if c.is_top_level]


def subclasses(code: str) -> list[Category]:
    """The subclasses of a top-level category (empty for those without any)."""
    category(code)
    return [c for c in CATEGORIES if c.parent == code]


def deadline_for(code: str) -> Deadline:
    """The handling deadline of a category."""
    return category(code).deadline


def supervision_for(code: str) -> Supervision:
    """The supervision limits of a category (a subclass: its top-level category's)."""
    found = lookup(code)
    return SUPERVISION[found.parent or found.code]


def find(code_or_name: str) -> Category | None:
    """The category with this code or Chinese name (hotline exports name them), or None."""
    return _BY_CODE.get(code_or_name) or _BY_NAME_ZH.get(code_or_name)


def lookup(code_or_name: str) -> Category:
    """The category with this code or Chinese name; UnknownCategoryError lists the codes."""
    found = find(code_or_name)
    return found if found is not None else category(code_or_name)


def codes_under(code_or_name: str) -> list[str]:
    """The stored codes a category filter matches: the category and its subclasses."""
    found = lookup(code_or_name)
    return [found.code, *(c.code for c in CATEGORIES if c.parent == found.code)]
