"""The command line's language: ``--lang`` if given, else ``GRIDMAP_LANG``, else Chinese.

``gridmap --lang en …`` (the global option, before the command) is read by
``cli.main``'s callback, which calls :func:`choose` once per run; everything a
command prints, its tables' headers, its progress and its one-line errors,
goes through :func:`t` (or picks a ``gis.lang.Texts`` with :func:`lang`).
The texts themselves stay beside the code that prints them.
"""

from __future__ import annotations

from pydantic import ValidationError

from gis.lang import Lang, Texts
from gis.settings import LangSettings

_chosen: Lang | None = None


class BadLangSetting(ValueError):
    """``GRIDMAP_LANG`` names neither language."""


def choose(lang: Lang | None) -> Lang:
    """Use ``lang`` for this run; None: ``GRIDMAP_LANG`` (Chinese unless set)."""
    global _chosen
    if lang is None:
        try:
            lang = LangSettings().lang
        except ValidationError as exc:
            _chosen = None
            message = exc.errors()[0].get("msg", str(exc)).removeprefix("Value error, ")
            raise BadLangSetting(message) from None
    _chosen = lang
    return lang


def forget() -> None:
    """Back to ``GRIDMAP_LANG``: a run's choice ends with it (tests run many in one process)."""
    global _chosen
    _chosen = None


def lang() -> Lang:
    """The language of this run (``GRIDMAP_LANG`` when no command chose one)."""
    if _chosen is not None:
        return _chosen
    try:
        return LangSettings().lang
    except ValidationError:
        return Lang.ZH


def t(zh: str, en: str) -> str:
    """``zh`` or ``en``, whichever this run speaks."""
    return Texts(zh, en).pick(lang())
