"""Conditional writes: ETags of versioned records and the If-Match header.

Facilities and incidents carry a ``version`` that the database raises with
every change. A client that read version 4 and writes back says so, either in
HTTP's own way, ``If-Match: "17-4"`` with the ETag it was given (RFC 9110
§13.1.1), or, for clients that cannot set headers, ``expected_version: 4`` in
the body. A stale ``If-Match`` is a 412 Precondition Failed, a stale
``expected_version`` a 409 Conflict (as incidents always answered); both carry
the current version and ETag.

A facility write must say which version it is based on: without either, the
answer is 428 Precondition Required (RFC 6585 §3), because the write that
silently undoes a colleague's is exactly what the version is for. A client that
really means "whatever is stored now" says so with ``If-Match: *``.

ETags are strong and name the record and its version, ``"<id>-<version>"``, so
a tag read from one facility never matches another. An answer whose coordinates
were converted to GCJ-02 or BD-09 (``datum=``) is another representation, so its
tag says so, ``"<id>-<version>.gcj02"``; WGS84 and CGCS2000 answers are the same
bytes and share the plain tag. Only the version is compared: the tag says which
stored state a write was based on, which is what a lost update is about, and a
client that read the GCJ-02 answer may quote its tag.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header

from gis.errors import GridmapError, InvalidParameterError, StaleVersionError
from gis.geo.datum import Datum, passes_through

ANY = "*"
_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
"""One entity-tag of an If-Match list (RFC 9110 §8.8.3: etagc excludes DQUOTE)."""
_VERSION = re.compile(r"([1-9][0-9]{0,9})(?:\.(?:gcj02|bd09))?")
NO_VERSION = 0
"""Matches no stored version (they start at 1): an If-Match naming no version of this record."""


_THING_ZH = {
    "incident": "案件",
    "facility": "设施",
    "person": "服务对象",
    "participation item": "议事事项",
}


class PreconditionFailedError(GridmapError):
    """The version an ``If-Match`` named is not the one stored now (HTTP 412)."""

    def __init__(self, stale: StaleVersionError) -> None:
        self.ident = stale.ident
        self.current = stale.current
        self.state = stale.state
        super().__init__(
            f"If-Match does not match {stale.thing} {stale.ident}: it is at version "
            f"{stale.current} (ETag {etag(stale.ident, stale.current)}) now. Someone changed "
            "it since you read it: GET it again, and send your change with the new ETag if "
            "it still applies.",
            zh=f"If-Match 与{_THING_ZH.get(stale.thing, stale.thing)} {stale.ident} "
            f"不符：它现在是第 {stale.current} 版（ETag {etag(stale.ident, stale.current)}）。"
            "读取之后已有他人修改：请重新 GET，如仍需要，用新的 ETag 再提交修改。",
        )


class PreconditionRequiredError(GridmapError):
    """A write that must name the version it is based on did not (HTTP 428)."""


def etag(ident: int, version: int, datum: Datum | None = None) -> str:
    """The strong ETag of version ``version`` of record ``ident`` (answered in ``datum``)."""
    if datum is None or passes_through(datum):
        return f'"{ident}-{version}"'
    return f'"{ident}-{version}.{datum.label}"'


def etag_headers(ident: int, version: Any, datum: Datum | None = None) -> dict[str, str]:
    """Response headers carrying the record's ETag."""
    return {"ETag": etag(ident, int(version), datum)}


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag you read, e.g. "17-4" (412 if it is stale), or * to write '
        "whatever is stored now.",
    ),
]


@dataclass(frozen=True)
class Expected:
    """The version a write is based on, and where the client said it."""

    named: int | None
    """None: no version named (no precondition, or ``If-Match: *``)."""
    from_header: bool
    given: bool
    """The client stated a precondition (``*`` included)."""
    required: bool = True
    """A write without a precondition is refused (428); else it writes what is stored."""

    @property
    def version(self) -> int | None:
        """The version to check the stored one against; a write that must name one and
        did not gets :data:`NO_VERSION`, so the record's existence is checked first
        (404) and :meth:`checked` turns the mismatch into a 428."""
        return self.named if self.given or not self.required else NO_VERSION

    @contextlib.contextmanager
    def checked(self) -> Iterator[None]:
        """A stale version named by If-Match becomes a 412, one named by nobody a 428;
        a stale body version stays a 409."""
        try:
            yield
        except StaleVersionError as exc:
            if not self.given:
                raise PreconditionRequiredError(
                    f"changing {exc.thing} {exc.ident} needs the version you read: send "
                    "If-Match with the ETag of GET (or expected_version); If-Match: * "
                    "overwrites whatever is stored.",
                    zh=f"修改 {exc.ident} 须注明所读取的版本：发送 If-Match（GET 返回的 ETag）"
                    "或 expected_version；If-Match: * 会覆盖已存储的内容。",
                ) from exc
            if self.from_header:
                raise PreconditionFailedError(exc) from exc
            raise


def expected(
    ident: int, if_match: str | None, body_version: int | None, *, required: bool = True
) -> Expected:
    """What ``If-Match`` and the body's ``expected_version`` say, reconciled.

    A tag of another record, a weak tag (never equal under the strong
    comparison If-Match uses) or a tag of another format matches no version.
    Several tags are refused: a write is based on one read.
    """
    if if_match is None:
        return Expected(body_version, False, body_version is not None, required)
    header = _header_version(ident, if_match)
    if header is None and body_version is not None:  # "*" adds nothing to a named version
        return Expected(body_version, False, True, required)
    if body_version is not None and header != body_version:
        raise InvalidParameterError(
            f"If-Match ({if_match.strip()}) and expected_version ({body_version}) name "
            "different versions; send the one you read, in either"
        )
    return Expected(header, True, True, required)


def _header_version(ident: int, if_match: str) -> int | None:
    value = if_match.strip()
    if value == ANY:
        return None
    tags = []
    rest = value
    while rest:
        found = _TAG.match(rest)
        if found is None:
            raise InvalidParameterError(
                f'header If-Match: {if_match!r} is not an entity tag; send the ETag of GET, e.g. "'
                f'{ident}-1", or *'
            )
        tags.append((found.group(1) is not None, found.group(2)))
        rest = rest[found.end() :].lstrip()
    if len(tags) != 1:
        raise InvalidParameterError(
            "header If-Match: send one entity tag, the ETag you read, not a list"
        )
    weak, opaque = tags[0]
    prefix = f"{ident}-"
    version = opaque.removeprefix(prefix)
    found_version = _VERSION.fullmatch(version)
    if weak or version == opaque or found_version is None:
        return NO_VERSION
    return int(found_version.group(1))
