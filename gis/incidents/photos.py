"""Evidence photos of a case: added at intake, handling and verification; read by those
responsible for it.

**Stored in the database** (table ``incident_photo``, migration 0009), not in a
media directory: a photo is written in the transaction of the request that adds
it, with its audit row, so an acknowledged upload is stored and a failed one
leaves nothing (no orphan files, no rows pointing at missing files); pg_dump
backs photos up with their cases and a restore brings both back together; and a
photo is read through the same rule as its case, in the same query, so no file
URL can be guessed past it. Photos are small once re-encoded (a few hundred kB,
at most ``GRIDMAP_PHOTO_MAX_PER_CASE`` per case), so the database holds them
without strain.

What is stored is ``gis.incidents.photo_images``' re-encoding: a JPEG without
any metadata and a thumbnail, with the EXIF time and position in columns.
Who may add a photo at which stage is ``gis.incidents.permissions.check_photo``
(on the case's row, locked while the photo is written); who may see photos is
``gis.incidents.visibility.sees_photos``: those responsible for the case. To
anyone else a photo does not exist (NotFoundError, worded as for a missing id).

A ``client_key`` (the phone's own id for an upload, at most 64 characters)
makes an upload idempotent: the same key for the same case answers the photo
stored the first time, whatever else the replay carries. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import ConflictError, NotFoundError, PayloadTooLargeError
from gis.incidents import permissions, transitions, visibility
from gis.incidents.permissions import PhotoStage
from gis.incidents.photo_images import CleanPhoto, clean_photo
from gis.incidents.records import IncidentRecord, get_incident
from gis.incidents.workflow import Action, stored_ref
from gis.principal import Principal
from gis.settings import PhotoSettings

CLIENT_KEY_MAX = 64
"""Characters of a ``client_key``; the database checks the same."""


@dataclass(frozen=True)
class PhotoInfo:
    """A stored photo without its bytes: sizes in pixels (``bytes`` of the stored JPEG),
    ``taken_at``, ``lon``/``lat`` (WGS84) from the camera's EXIF when it had them,
    who uploaded it (``uploaded_by`` their name, ``uploaded_by_role`` their role code)."""

    id: int
    incident_id: int
    stage: str
    width: int
    height: int
    bytes: int
    taken_at: dt.datetime | None
    uploaded_at: dt.datetime
    uploaded_by: str
    uploaded_by_role: str | None
    client_key: str | None
    lon: float | None
    lat: float | None


@dataclass(frozen=True)
class Upload:
    """One file as sent: its bytes, its file name (for messages) and optional key."""

    data: bytes
    name: str
    client_key: str | None = None


@dataclass(frozen=True)
class Added:
    """What an upload answers: the photos in the order sent, the ids ``stored`` now (the
    others were replays of a ``client_key``), and the case's grid (for the audit)."""

    photos: list[PhotoInfo]
    stored: list[int]
    grid_code: str | None


@dataclass(frozen=True)
class PhotoFile:
    """The bytes of a stored image (``thumb`` or full size), its strong ETag value, and the
    case's id and grid (for the audit)."""

    photo_id: int
    incident_id: int
    grid_code: str | None
    data: bytes
    etag: str


_INFO = """
SELECT p.id, p.incident_id, p.stage, p.width, p.height, octet_length(p.image) AS bytes,
       p.taken_at, p.uploaded_at, p.uploaded_by, p.uploaded_by_role, p.client_key,
       ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat
FROM incident_photo p
"""


def _info(row: object) -> PhotoInfo:
    return PhotoInfo(**row._asdict())  # type: ignore[attr-defined]


def add_photos(
    session: Session,
    incident_id: int,
    stage: PhotoStage | str,
    uploads: Sequence[Upload],
    principal: Principal,
    limits: PhotoSettings,
) -> Added:
    """Store ``uploads`` as photos of ``stage`` of the case, all or none.

    Replays (a ``client_key`` already stored for this case, or twice in one
    request) answer the stored photo and are not checked again: the phone's
    queue may resend an intake photo after the case has moved on. Refusals:
    NotFoundError (out of reach), ForbiddenError and PhotoStageClosedError
    (``permissions.check_photo``), ConflictError (the case would hold more than
    ``limits.max_per_case``), PayloadTooLargeError (a file over
    ``limits.max_bytes``, or too many pixels), UnsupportedFileError (not a
    JPEG, PNG or WebP decoded in full).
    """
    stage = PhotoStage(stage)
    step = Action.VERIFY if stage is PhotoStage.VERIFICATION else None
    state, facts = transitions.locked_case(session, incident_id, step, lock=False)
    permissions.check_reach(principal, facts)
    fresh = _fresh(session, incident_id, uploads)
    cleaned: dict[int, CleanPhoto] = {}
    if fresh:
        permissions.check_photo(principal, stage, facts, state)
        _check_count(session, incident_id, len(fresh), limits)
        for i in fresh:  # the slow part, before the case's row is locked
            upload = uploads[i]
            if len(upload.data) > limits.max_bytes:
                raise _too_large(upload, limits)
            cleaned[i] = clean_photo(upload.data, name=upload.name, max_pixels=limits.max_pixels)
        # Now under the lock: the state and the count as no one else can change them, and
        # the keys stored meanwhile by a replay that overtook this request.
        state, facts = transitions.locked_case(session, incident_id, step)
        fresh = [i for i in _fresh(session, incident_id, uploads) if i in cleaned]
        if fresh:
            permissions.check_photo(principal, stage, facts, state)
            _check_count(session, incident_id, len(fresh), limits)
    stored: list[int] = []
    for i in fresh:
        stored.append(_insert(session, incident_id, stage, uploads[i], cleaned[i], principal))
    by_key = _by_key(session, incident_id, [u.client_key for u in uploads if u.client_key])
    by_id = {p.id: p for p in _photos(session, incident_id, stored)} if stored else {}
    photos: list[PhotoInfo] = []
    new = iter(stored)
    for i, upload in enumerate(uploads):
        if i in cleaned and i in fresh:
            photos.append(by_id[next(new)])
        else:
            assert upload.client_key is not None
            photos.append(by_key[upload.client_key])
    return Added(photos, stored, facts.grid_code)


def _fresh(session: Session, incident_id: int, uploads: Sequence[Upload]) -> list[int]:
    """Indexes of the uploads to store: without a key, or with one not stored yet (the first
    of several with the same key)."""
    keys = [u.client_key for u in uploads if u.client_key]
    stored = set(_by_key(session, incident_id, keys)) if keys else set()
    fresh, seen = [], set()
    for i, upload in enumerate(uploads):
        key = upload.client_key
        if key is None:
            fresh.append(i)
        elif key not in stored and key not in seen:
            seen.add(key)
            fresh.append(i)
    return fresh


def _by_key(session: Session, incident_id: int, keys: list[str]) -> dict[str, PhotoInfo]:
    if not keys:
        return {}
    rows = session.execute(
        text(_INFO + " WHERE p.incident_id = :i AND p.client_key = ANY(:k)"),
        {"i": incident_id, "k": keys},
    )
    return {row.client_key: _info(row) for row in rows}


def _check_count(session: Session, incident_id: int, adding: int, limits: PhotoSettings) -> None:
    held = session.execute(
        text("SELECT count(*) FROM incident_photo WHERE incident_id = :i"), {"i": incident_id}
    ).scalar_one()
    if held + adding > limits.max_per_case:
        raise ConflictError(
            f"案件照片已达上限 (case {incident_id} holds {held} photos; adding {adding} would "
            f"pass the limit of {limits.max_per_case} per case, GRIDMAP_PHOTO_MAX_PER_CASE): "
            "send fewer, the ones that show most"
        )


def _too_large(upload: Upload, limits: PhotoSettings) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"照片文件过大 (the file “{upload.name[:80]}” has {len(upload.data):,} bytes; at most "
        f"{limits.max_bytes:,} are taken per photo, GRIDMAP_PHOTO_MAX_BYTES): send it at a "
        "smaller size"
    )


def _insert(
    session: Session,
    incident_id: int,
    stage: PhotoStage,
    upload: Upload,
    photo: CleanPhoto,
    principal: Principal,
) -> int:
    point = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)" if photo.lon is not None else "NULL"
    new_id: int = session.execute(
        text(
            "INSERT INTO incident_photo (incident_id, stage, client_key, image, thumb, digest,"
            " width, height, original_type, original_bytes, taken_at, geom, uploaded_by,"
            " uploaded_by_role, uploaded_by_ref)"
            f" VALUES (:i, :stage, :key, :image, :thumb, :digest, :w, :h, :type, :n, :taken,"
            f" {point}, :by, :role, :ref) RETURNING id"
        ),
        {
            "i": incident_id,
            "stage": stage.value,
            "key": upload.client_key,
            "image": photo.image,
            "thumb": photo.thumb,
            "digest": photo.digest,
            "w": photo.width,
            "h": photo.height,
            "type": photo.original_type,
            "n": photo.original_bytes,
            "taken": photo.taken_at,
            "lon": photo.lon,
            "lat": photo.lat,
            "by": principal.actor,
            "role": principal.role.value if principal.role is not None else None,
            "ref": stored_ref(principal.ref),
        },
    ).scalar_one()
    return new_id


def _photos(session: Session, incident_id: int, ids: list[int] | None = None) -> list[PhotoInfo]:
    where = " WHERE p.incident_id = :i" + (" AND p.id = ANY(:ids)" if ids is not None else "")
    rows = session.execute(text(_INFO + where + " ORDER BY p.id"), {"i": incident_id, "ids": ids})
    return [_info(row) for row in rows]


# ---- reads ------------------------------------------------------------------------------


def photos_shown(
    session: Session, record: IncidentRecord, viewer: Principal
) -> list[PhotoInfo] | None:
    """The photos of a case ``viewer`` already reaches, oldest first; None when photos are
    not shown to them (``visibility.sees_photos``)."""
    if not visibility.sees_photos(viewer, record.grid_code, record.category):
        return None
    return _photos(session, record.id)


def case_photos(
    session: Session, incident_id: int, viewer: Principal
) -> tuple[IncidentRecord, list[PhotoInfo]]:
    """The case and its photos; NotFoundError when the case is missing, out of reach or its
    photos are not shown to ``viewer`` (worded as for a missing case)."""
    record = get_incident(session, incident_id)
    visibility.check_reach(viewer, incident_id, record.grid_code, record.category)
    shown = photos_shown(session, record, viewer)
    if shown is None:
        raise NotFoundError(f"no incident has id {incident_id}")
    return record, shown


def photo_file(session: Session, photo_id: int, viewer: Principal, *, thumb: bool) -> PhotoFile:
    """The stored JPEG (or its thumbnail); NotFoundError for a photo that is missing or whose
    case's photos ``viewer`` may not see, worded alike."""
    column = "thumb" if thumb else "image"
    row = session.execute(
        text(
            f"SELECT p.id, p.incident_id, p.digest, p.{column} AS data, i.category,"
            " g.code AS grid_code FROM incident_photo p JOIN incident i ON i.id = p.incident_id"
            " LEFT JOIN grid g ON g.id = i.grid_id WHERE p.id = :id"
        ),
        {"id": photo_id},
    ).first()
    if row is None or not visibility.sees_photos(viewer, row.grid_code, row.category):
        raise NotFoundError(f"no photo has id {photo_id}")
    return PhotoFile(
        photo_id=int(row.id),
        incident_id=int(row.incident_id),
        grid_code=row.grid_code,
        data=bytes(row.data),
        etag=f"{row.digest[:32]}{'-thumb' if thumb else ''}",
    )
