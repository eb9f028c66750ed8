"""Evidence photos of a case: POST and list under /api/v1/incidents/{id}/photos, the images
under /api/v1/photos/{id}.

Files come as ``multipart/form-data`` (``file`` repeated, ``stage``, ``client_key`` per
file), read from the stream with a limit (``api.bodies.read_multipart``); checking,
re-encoding and storing them is ``gis.incidents.photos``, who may add one at which stage
``gis.incidents.permissions.check_photo``, who sees them ``gis.incidents.visibility.
sees_photos`` (those responsible for the case: to anyone else a photo is a 404 as for a
missing one, and a planner's or a key's rule does not name these routes at all). Every
answer showing photos is recorded in the audit trail as ``personal.read``; an upload as
``incident.photo``, committed with the photos.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from api import access
from api.audited import record_read, record_write
from api.bodies import MULTIPART, invalid_body, read_multipart
from api.dependencies import DatumOutDep, SessionDep
from api.fields import INT8_MAX
from api.incident_schemas import PHOTO_EXAMPLE, PhotoInfoDoc
from api.responses import ErrorDoc, lonlat_out
from api.routing import ReadRetryRoute
from gis.accounts.accounts import role_name_zh
from gis.geo.geojson import json_object
from gis.incidents import photos
from gis.incidents.permissions import PhotoStage
from gis.incidents.photos import CLIENT_KEY_MAX, PhotoInfo, Upload
from gis.principal import Principal, Role
from gis.settings import PhotoSettings

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1",
    tags=["photos"],
    default_response_class=JSONResponse,
)

CACHE_CONTROL = "private, max-age=3600"
"""Photos never change once stored, but who may see them can: a browser keeps one an
hour, and no shared cache keeps it at all."""
FORM_OVERHEAD = 64 * 1024
"""Bytes of a multipart body beyond its files (boundaries, headers, stage, keys)."""

Adder = Annotated[Principal, Depends(access.PHOTO_ADD)]
Reader = Annotated[Principal, Depends(access.PHOTO_READ)]
IncidentId = Annotated[int, Path(ge=1, le=INT8_MAX, description="The incident's id.")]
PhotoId = Annotated[int, Path(ge=1, le=INT8_MAX, description="The photo's id.")]


def photo_settings(request: Request) -> PhotoSettings:
    """The app's photo limits (``GRIDMAP_PHOTO_*``), read once; a test may set its own on
    ``app.state.photo_settings``."""
    found: PhotoSettings | None = getattr(request.app.state, "photo_settings", None)
    if found is None:
        found = request.app.state.photo_settings = PhotoSettings()
    return found


Limits = Annotated[PhotoSettings, Depends(photo_settings)]


def photo_json(info: PhotoInfo) -> dict[str, Any]:
    """A photo as the API shows it (to those who see the case's photos)."""
    body = json_object(
        {
            "id": info.id,
            "incident_id": info.incident_id,
            "stage": info.stage,
            "width": info.width,
            "height": info.height,
            "bytes": info.bytes,
            "taken_at": info.taken_at,
            "uploaded_at": info.uploaded_at,
            "uploaded_by_label": uploaded_by_label(info),
            "client_key": info.client_key,
            "lon": info.lon,
            "lat": info.lat,
        }
    )
    body["url"] = f"/api/v1/photos/{info.id}"
    body["thumb_url"] = f"/api/v1/photos/{info.id}/thumb"
    return body


def uploaded_by_label(info: PhotoInfo) -> str:
    """张伟（网格员）: the uploader's name and role in Chinese (a system: its name)."""
    try:
        role = Role(info.uploaded_by_role) if info.uploaded_by_role else None
    except ValueError:
        role = None
    return f"{info.uploaded_by}（{role_name_zh(role)}）" if role else info.uploaded_by


# ---- upload -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoForm:
    stage: PhotoStage
    uploads: list[Upload]


def _field_error(field: str, message: str, value: Any = None) -> Exception:
    error: dict[str, Any] = {"loc": (field,), "msg": message, "type": "value_error"}
    if isinstance(value, str):
        error["input"] = value
    return invalid_body([error])


async def photo_form(request: Request, limits: Limits) -> PhotoForm:
    """The upload's form: the files read whole (each refused over the limit while read)."""
    form = await read_multipart(
        request,
        limit=limits.max_bytes * limits.max_per_case + FORM_OVERHEAD,
        max_files=limits.max_per_case,
    )
    try:
        stages = form.getlist("stage")
        if len(stages) != 1 or not isinstance(stages[0], str):
            raise _field_error("stage", "give one stage: intake, handling or verification")
        try:
            stage = PhotoStage(stages[0].strip())
        except ValueError:
            raise _field_error(
                "stage", "the stage is intake, handling or verification", stages[0]
            ) from None
        files = form.getlist("file")
        if not files or not all(isinstance(f, UploadFile) for f in files):
            raise _field_error("file", "send at least one photo as a file part named file")
        keys = form.getlist("client_key")
        if keys and len(keys) != len(files):
            raise _field_error(
                "client_key",
                f"give one client_key per file, in their order ({len(files)} files, "
                f"{len(keys)} keys), or none",
            )
        for key in keys:
            if not isinstance(key, str) or not 1 <= len(key) <= CLIENT_KEY_MAX:
                raise _field_error(
                    "client_key", f"a client_key is 1 to {CLIENT_KEY_MAX} characters"
                )
            if not key.isprintable() or any(0xD800 <= ord(c) <= 0xDFFF for c in key):
                raise _field_error("client_key", "a client_key is printable text", key)
        uploads = []
        for i, part in enumerate(files):
            assert isinstance(part, UploadFile)
            data = await part.read(limits.max_bytes + 1)  # gis refuses it if over
            name = part.filename or f"file {i + 1}"
            uploads.append(Upload(data, name, str(keys[i]) if keys else None))
        return PhotoForm(stage, uploads)
    finally:
        await form.close()


PhotoFormDep = Annotated[PhotoForm, Depends(photo_form)]

_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file", "stage"],
    "properties": {
        "file": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "minItems": 1,
            "description": "The photos (JPEG, PNG or WebP), one part each.",
        },
        "stage": {
            "type": "string",
            "enum": [s.value for s in PhotoStage],
            "description": "intake (reported, accepted), handling (dispatched, handled) or "
            "verification (feedback, closed).",
        },
        "client_key": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": CLIENT_KEY_MAX},
            "description": "Optional, one per file in their order: your own id of each "
            "upload. Sent again for the same case, it answers the photo stored the first time.",
        },
    },
}
_FORM_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "multipart/form-data: the files and their stage.",
        "content": {
            MULTIPART: {
                "schema": _FORM_SCHEMA,
                "encoding": {"file": {"contentType": "image/jpeg, image/png, image/webp"}},
            }
        },
    }
}
_404 = {"model": ErrorDoc, "description": "No incident has this id (in your areas)."}


@router.post(
    "/incidents/{incident_id}/photos",
    status_code=201,
    summary="Add evidence photos to an incident",
    responses={
        200: {
            "model": list[PhotoInfoDoc],
            "description": "Every file was a replay of a stored client_key: the stored photos.",
            "content": {"application/json": {"example": [PHOTO_EXAMPLE]}},
        },
        201: {
            "model": list[PhotoInfoDoc],
            "description": "The photos, in the order sent.",
            "content": {"application/json": {"example": [PHOTO_EXAMPLE]}},
        },
        403: {
            "model": ErrorDoc,
            "description": "You may not add photos of this stage to this case (the message "
            "says who may): handling photos by those who may handle it, verification photos "
            "by those who may verify it (not whoever handled it).",
        },
        404: _404,
        409: {
            "model": ErrorDoc,
            "description": "The case is not at this stage (the message says which it takes "
            "now), or it would hold more photos than GRIDMAP_PHOTO_MAX_PER_CASE.",
        },
        413: {
            "model": ErrorDoc,
            "description": "A file is larger than GRIDMAP_PHOTO_MAX_BYTES, or declares more "
            "pixels than GRIDMAP_PHOTO_MAX_PIXELS (a decompression bomb).",
        },
        415: {
            "model": ErrorDoc,
            "description": "The body is not multipart/form-data, or a file is not a JPEG, PNG "
            "or WebP image decoded in full (empty, cut off, a PDF, an SVG, other data after "
            "the image).",
        },
        422: {
            "model": ErrorDoc,
            "description": "A field is missing or wrong (stage, file, client_key).",
        },
    },
    openapi_extra=_FORM_DOC,
)
def add_photos(
    request: Request,
    session: SessionDep,
    incident_id: IncidentId,
    principal: Adder,  # before the form: nobody's body is read before the rule let them in
    form: PhotoFormDep,
    limits: Limits,
    datum: DatumOutDep,
) -> JSONResponse:
    """Each photo is checked (a JPEG, PNG or WebP Pillow decodes in full), re-encoded as a
    JPEG of at most 2048 px with every metadata block removed (the EXIF orientation applied
    first), with a thumbnail of at most 320 px; the time and position the camera recorded
    (EXIF, WGS84) are kept as ``taken_at``, ``lon``, ``lat``, shown only to those
    responsible for the case. All the files of a request are stored, or none. 201 with the
    photos in the order sent; 200 when every file was a replay of a ``client_key``."""
    added = photos.add_photos(session, incident_id, form.stage, form.uploads, principal, limits)
    if added.stored:
        record_write(
            session,
            request,
            principal,
            "incident.photo",
            object=f"incident:{incident_id}",
            area=added.grid_code,
            detail={"stage": form.stage.value, "photos": added.stored},
        )
        session.commit()
    return JSONResponse(
        lonlat_out([photo_json(p) for p in added.photos], datum),
        status_code=201 if added.stored else 200,
    )


# ---- reads --------------------------------------------------------------------------------


@router.get(
    "/incidents/{incident_id}/photos",
    summary="The evidence photos of an incident",
    responses={
        200: {
            "model": list[PhotoInfoDoc],
            "content": {"application/json": {"example": [PHOTO_EXAMPLE]}},
        },
        404: _404,
    },
)
def list_photos(
    request: Request,
    session: SessionDep,
    incident_id: IncidentId,
    principal: Reader,
    datum: DatumOutDep,
) -> JSONResponse:
    """Oldest first, with ``url`` and ``thumb_url`` of the images. Only those responsible
    for the case see its photos: to anyone else this is a 404, as for a missing case.
    A non-empty answer is recorded in the audit trail."""
    record, shown = photos.case_photos(session, incident_id, principal)
    if shown:
        record_read(
            session,
            request,
            principal,
            f"incident:{incident_id}",
            area=record.grid_code,
            detail={"photos": [p.id for p in shown]},
        )
    return JSONResponse(lonlat_out([photo_json(p) for p in shown], datum))


_IMAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The JPEG, without any metadata.",
        "headers": {
            "ETag": {"description": "The image's strong ETag.", "schema": {"type": "string"}},
            "Cache-Control": {"description": CACHE_CONTROL, "schema": {"type": "string"}},
        },
    },
    304: {"description": "If-None-Match names this image's ETag: keep the copy you have."},
    404: {
        "model": ErrorDoc,
        "description": "No photo has this id, or its case's photos are not shown to you.",
    },
}


def _image(
    request: Request, session: SessionDep, photo_id: int, principal: Principal, *, thumb: bool
) -> Response:
    found = photos.photo_file(session, photo_id, principal, thumb=thumb)
    tag = f'"{found.etag}"'
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
    sent = request.headers.get("if-none-match", "")
    if tag in (t.strip().removeprefix("W/") for t in sent.split(",")):
        return Response(status_code=304, headers=headers)
    record_read(
        session,
        request,
        principal,
        f"photo:{found.photo_id}",
        area=found.grid_code,
        detail={"incident": found.incident_id, "size": "thumb" if thumb else "full"},
    )
    return Response(found.data, media_type="image/jpeg", headers=headers)


@router.get(
    "/photos/{photo_id}",
    summary="A photo (JPEG, at most 2048 px)",
    response_class=Response,
    responses=_IMAGE,
)
def get_photo(
    request: Request, session: SessionDep, photo_id: PhotoId, principal: Reader
) -> Response:
    """The stored JPEG, to those responsible for its case (404 to anyone else, as for a
    missing photo); ``Cache-Control: private``, an ``ETag`` (If-None-Match: 304). Each
    image sent is recorded in the audit trail."""
    return _image(request, session, photo_id, principal, thumb=False)


@router.get(
    "/photos/{photo_id}/thumb",
    summary="A photo's thumbnail (JPEG, at most 320 px)",
    response_class=Response,
    responses=_IMAGE,
)
def get_photo_thumb(
    request: Request, session: SessionDep, photo_id: PhotoId, principal: Reader
) -> Response:
    """As GET /api/v1/photos/{photo_id}, at most 320 px on the longest side."""
    return _image(request, session, photo_id, principal, thumb=True)
