"""Who a person served is: the one list of category codes and their names.

The codes are stored (``person.category``, checked by migration 0013 from
``gis.db.models.PERSON_CATEGORIES``); the names are what pages and answers
show. Seed 003's "一点通" serves elderly people without family (孤寡老人:
``elderly_alone``, 独居老人), people with severe physical or intellectual
disabilities (``disabled``, 残疾人) and others the district supports, such as
retired cadres and soldiers (``other``, 其他); ``elderly`` (高龄老人) is the
very old who live with family. The age at which someone counts as 高龄 is the
community's call, not stored here.
"""

from __future__ import annotations

from gis.db.models import PERSON_CATEGORIES
from gis.errors import InvalidParameterError
from gis.lang import Texts

CATEGORIES: dict[str, Texts] = {
    "elderly_alone": Texts("独居老人", "elderly living alone"),
    "elderly": Texts("高龄老人", "very old"),
    "disabled": Texts("残疾人", "disabled"),
    "other": Texts("其他", "other"),
}
assert tuple(CATEGORIES) == PERSON_CATEGORIES, "gis.db.models.PERSON_CATEGORIES and these differ"


def check_category(code: str) -> str:
    """``code`` if it is a known category, else InvalidParameterError naming the known ones."""
    if code not in CATEGORIES:
        known = ", ".join(CATEGORIES)
        raise InvalidParameterError(
            f"unknown category {code!r}: use one of {known}",
            zh=f"未知的人员类别 {code!r}：请使用 {known} 之一",
        )
    return code
