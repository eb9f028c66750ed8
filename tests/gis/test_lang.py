"""The two languages: how they are named, a text in both, an error's Chinese text."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gis.errors import GridmapError, NotFoundError
from gis.lang import Lang, Texts, parse_lang
from gis.settings import LangSettings


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("zh", Lang.ZH),
        ("zh-CN", Lang.ZH),
        ("zh_Hans", Lang.ZH),
        ("ZH", Lang.ZH),
        ("中文", Lang.ZH),
        ("en", Lang.EN),
        ("en-GB", Lang.EN),
        ("en_US.UTF-8", Lang.EN),
        ("English", Lang.EN),
        ("fr", None),
        ("C.UTF-8", None),
        ("", None),
        (None, None),
    ],
)
def test_a_language_is_named_as_people_and_systems_write_it(
    tag: str | None, lang: Lang | None
) -> None:
    assert parse_lang(tag) is lang


def test_a_text_in_both_languages_picks_one_and_logs_english() -> None:
    text = Texts("已停止", "stopped")
    assert (text.pick(Lang.ZH), text.pick(Lang.EN), str(text)) == ("已停止", "stopped", "stopped")


def test_an_error_gives_its_chinese_text_where_it_has_one() -> None:
    both = NotFoundError("no incident has id 7", zh="没有编号为 7 的案件")
    assert str(both) == "no incident has id 7"
    assert both.text(Lang.ZH) == "没有编号为 7 的案件" and both.text(Lang.EN) == str(both)
    english_only = GridmapError("only in English")
    assert english_only.text(Lang.ZH) == english_only.text(Lang.EN) == "only in English"


def test_gridmap_lang_is_chinese_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDMAP_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")  # the locale is not the setting
    assert LangSettings().lang is Lang.ZH
    monkeypatch.setenv("GRIDMAP_LANG", "en-GB")
    assert LangSettings().lang is Lang.EN
    monkeypatch.setenv("GRIDMAP_LANG", "klingon")
    with pytest.raises(ValidationError, match="set zh"):
        LangSettings()
