"""The two languages people read gridmap in: Chinese by default, English on request.

This module is the one home of the choice's vocabulary: :class:`Lang`, a text
in both languages (:class:`Texts`), and how a language is named (``zh``,
``en``, ``zh-CN``, ``en_US.UTF-8``). ``gis`` holds texts in both languages and
never picks one; the edges pick for the person in front of them:
``cli.lang`` from ``--lang`` or ``GRIDMAP_LANG``, ``api.lang`` from the
request's ``Accept-Language`` (and the pages' ``gm_lang`` cookie). The default
of both is ``GRIDMAP_LANG`` (``gis.settings.LangSettings``), Chinese unless set.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Lang(enum.StrEnum):
    """A language gridmap speaks: ``zh`` (简体中文, the default) or ``en``."""

    ZH = "zh"
    EN = "en"


DEFAULT = Lang.ZH


def parse_lang(value: str | None) -> Lang | None:
    """The language a tag names, or None if it names neither.

    Tolerant of regions, scripts and encodings as people and systems write them:
    ``zh``, ``zh-CN``, ``zh_Hans``, ``ZH``, ``en``, ``en-GB``, ``en_US.UTF-8``,
    ``chinese``, ``english``, ``中文``.
    """
    if value is None:
        return None
    tag = value.strip().lower().replace("_", "-").split(".", 1)[0]
    primary = tag.split("-", 1)[0]
    if primary in ("zh", "chinese", "中文", "cn"):
        return Lang.ZH
    if primary in ("en", "english"):
        return Lang.EN
    return None


class Texts(NamedTuple):
    """One message in both languages: ``zh`` and ``en``, the same sentence."""

    zh: str
    en: str

    def pick(self, lang: Lang) -> str:
        return self.en if lang is Lang.EN else self.zh

    def __str__(self) -> str:
        """English: what logs, tracebacks and ``str(exc)`` show (people get :meth:`pick`)."""
        return self.en
