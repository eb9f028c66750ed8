"""The language of an answer: Chinese by default, English when the request asks for it.

The one place the API decides (``gis.lang`` holds the vocabulary, ``cli.lang``
the command line's choice). A request is answered in English when

1. the pages' cookie ``gm_lang`` says ``en`` (a person switched the pages to
   English with ``?lang=en``; their scripts' calls follow), or else
2. its ``Accept-Language`` header prefers English to Chinese (``en``,
   ``en-GB,en;q=0.9``; ``zh-CN,en;q=0.5`` stays Chinese: the first language
   of the two by quality wins, ``q=0`` is a refusal), or else
3. ``GRIDMAP_LANG`` is ``en``.

Otherwise it is Chinese. What is picked: error descriptions (``api.errors``),
Open311's service names, notices and status notes (``api.open311.render``).
Machine-readable fields (``code``, ``status``, keys, enumerations) never change.
Answers that depend on it say so: ``Content-Language`` and ``Vary:
Accept-Language, Cookie`` (:func:`language_headers`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import ValidationError

from gis.lang import Lang, parse_lang
from gis.settings import LangSettings

COOKIE = "gm_lang"
"""The pages' choice of language (set by ``?lang=``), honoured by the API too."""

CONTENT_LANGUAGE = {Lang.ZH: "zh-CN", Lang.EN: "en"}


def preferred(accept_language: str | None) -> Lang | None:
    """The language of the two an ``Accept-Language`` header ranks first, or None.

    Ranges are taken by quality (ties in the order given); a range naming
    neither language, ``*`` or one with ``q=0`` is passed over; a malformed
    quality counts as 1.
    """
    if not accept_language:
        return None
    ranked: list[tuple[float, int, Lang]] = []
    for order, item in enumerate(accept_language.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        lang = parse_lang(tag) if tag.strip() not in ("", "*") else None
        if lang is None:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 1.0
        if quality > 0:
            ranked.append((-quality, order, lang))
    return min(ranked)[2] if ranked else None


def default_lang() -> Lang:
    """``GRIDMAP_LANG``, or Chinese if it is unset or names no language."""
    try:
        return LangSettings().lang
    except ValidationError:
        return Lang.ZH


def request_lang(request: Request) -> Lang:
    """The language to answer ``request`` in (the rules above)."""
    return (
        parse_lang(request.cookies.get(COOKIE))
        or preferred(request.headers.get("accept-language"))
        or default_lang()
    )


LangDep = Annotated[Lang, Depends(request_lang)]


def language_headers(lang: Lang) -> dict[str, str]:
    """The headers of an answer whose words depend on the request's language."""
    return {"Content-Language": CONTENT_LANGUAGE[lang], "Vary": "Accept-Language, Cookie"}
