"""Domain errors raised by gis/; api/ maps each to one HTTP status in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gis.lang import Lang


class GridmapError(Exception):
    """Base of every error the program explains to its user.

    ``str(exc)`` is the English message (logs, tracebacks); a raiser that says it in
    Chinese too passes ``zh=``, and the edges show :meth:`text` in the reader's
    language (``gis.lang``). Without a Chinese text both languages get the English one.
    """

    zh: str | None = None

    def __init__(self, *args: Any, zh: str | None = None) -> None:
        super().__init__(*args)
        if zh is not None:
            self.zh = zh

    def text(self, lang: Lang) -> str:
        """The message in ``lang``: the Chinese one where given, else the English one."""
        if lang is Lang.ZH and self.zh:
            return self.zh
        return str(self)


class DatabaseUnavailableError(GridmapError):
    """No database could be reached or started."""


class NotFoundError(GridmapError):
    """The thing asked for does not exist."""


class InvalidParameterError(GridmapError):
    """A request parameter is malformed or out of range."""


class PayloadTooLargeError(GridmapError):
    """An upload or request body exceeds the configured limit."""


class UnsupportedFileError(GridmapError):
    """An uploaded file is not of a kind the platform takes (a photo that is not a JPEG,
    PNG or WebP image Pillow decodes in full: a PDF, an SVG, an empty or cut-off file)."""


class ConflictError(GridmapError):
    """The request conflicts with what is stored (duplicate code, stale version)."""


class InvalidFeatureError(GridmapError):
    """A record submitted for writing is well-formed but cannot be accepted as it is.

    E.g. an unknown facility type, a name that is empty, a datum the platform
    will not guess at. Distinct from InvalidParameterError (a malformed query
    parameter): the caller must change the record, not the request.
    """


class OutsideDistrictError(InvalidFeatureError):
    """A point to store lies outside the district the platform manages."""


class ImportFileError(InvalidParameterError):
    """An import file cannot be read as the layer: unreadable, malformed, columns missing."""


class DatumMismatchError(InvalidParameterError):
    """The CRS an import file declares contradicts the datum the caller named.

    Refused rather than resolved either way: one of the two is wrong, and
    guessing which would shift every row by hundreds of metres.
    """


class NoDistrictError(NotFoundError):
    """No current district boundary is loaded, so rows cannot be checked against it."""


class NoNetworkError(NotFoundError):
    """No walking network is stored, so walking distances cannot be measured."""


@dataclass
class RejectedRow:
    """One input row an import refused, and why."""

    row: int
    reason: str
    ident: str | None = None


@dataclass
class ImportRejectedError(GridmapError):
    """An import found bad rows; nothing was written."""

    layer: str
    rejected: list[RejectedRow] = field(default_factory=list)
    total_rows: int = 0

    def __str__(self) -> str:
        head = (
            f"{len(self.rejected)} of {self.total_rows} {self.layer} rows rejected; "
            "nothing was imported. Fix the rows below and run the import again."
        )
        lines = [
            f"  row {r.row}{f' ({r.ident})' if r.ident else ''}: {r.reason}"
            for r in self.rejected[:50]
        ]
        if len(self.rejected) > 50:
            lines.append(f"  ... and {len(self.rejected) - 50} more")
        return "\n".join([head, *lines])

    def text(self, lang: Lang) -> str:
        if lang is Lang.EN:
            return str(self)
        head = (
            f"{self.total_rows} 行{self.layer}中有 {len(self.rejected)} 行被拒绝，未导入任何数据。"
            "请修改下列各行后重新导入。"
        )
        lines = [
            f"  第 {r.row} 行{f'（{r.ident}）' if r.ident else ''}：{r.reason}"
            for r in self.rejected[:50]
        ]
        if len(self.rejected) > 50:
            lines.append(f"  …… 另有 {len(self.rejected) - 50} 行")
        return "\n".join([head, *lines])


_THING_ZH = {
    "incident": "案件",
    "facility": "设施",
    "person": "服务对象",
    "mediation_unit": "调处责任单位",
    "participation item": "议事事项",
}


class StaleVersionError(ConflictError):
    """The record changed since the caller read it; reload and decide again.

    ``thing`` names the kind of record ("incident", "facility"); ``current`` is
    the version stored now, so a client can tell how far behind it is;
    ``state``, where the record's code gives it, what it is now (for a case: its
    status, version, handling level and last step) so a client can show the conflict.
    """

    def __init__(
        self,
        ident: int,
        expected: int,
        current: int,
        thing: str = "incident",
        state: dict[str, Any] | None = None,
    ) -> None:
        self.ident = ident
        self.thing = thing
        self.expected = expected
        self.current = current
        self.state = state
        super().__init__(
            f"{thing} {ident} is at version {current}, not {expected}: someone changed "
            "it since you read it. Reload it and apply your change again if it still applies.",
            zh=f"{_THING_ZH.get(thing, thing)} {ident} 已是第 {current} 版，不是第 {expected} 版："
            "读取之后已有他人修改。请重新读取，如仍需要再修改一次。",
        )


class UnroutableLocationError(InvalidFeatureError):
    """A point inside the district but farther than the snap tolerance from every grid."""


class NotAuthenticatedError(GridmapError):
    """No valid credentials came with a request that needs them (log in, or send a key)."""


class ForbiddenError(GridmapError):
    """The caller is known but may not do this (their role, scopes or area do not allow it)."""


class TooManyAttemptsError(GridmapError):
    """Too many failed logins for this name lately; ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, retry_after_s: int, zh: str | None = None) -> None:
        super().__init__(message, zh=zh)
        self.retry_after_s = retry_after_s


class ConfigurationError(GridmapError):
    """A setting (environment variable) holds a value the program cannot work with.

    Raised while the program starts, so that a deployment is refused with a
    message naming the setting instead of drawing wrong maps later.
    """
