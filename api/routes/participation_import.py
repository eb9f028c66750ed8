"""Councils and participation items from a file, over HTTP (issue 14): the upload that
``gridmap participation import`` does from the command line, all or nothing
(``gis.participation.importer``), a community's accounts for their own rows only.
"""

from __future__ import annotations

import pathlib
import tempfile
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.audited import record_write
from api.bodies import MULTIPART, invalid_body, read_multipart
from api.dependencies import SessionDep
from api.participation_schemas import ImportDoc
from api.responses import ErrorDoc
from api.routes.participation import Writer
from api.routing import ReadRetryRoute
from gis.db.engine import translate_integrity_errors
from gis.geo.datum import Datum, parse_geographic_datum
from gis.participation.importer import ImportReport, import_participation
from gis.principal import Principal
from gis.settings import ImportSettings

router = APIRouter(
    route_class=ReadRetryRoute, prefix="/api/v1/participation", tags=["participation"]
)

IMPORT_FORM_OVERHEAD = 64 * 1024
_IMPORT_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "multipart/form-data: the file, what it holds and its datum.",
        "content": {
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A CSV (UTF-8 or GB18030), GeoPackage or GeoJSON "
                            "file; its name's suffix says which (docs/participation.md).",
                        },
                        "kind": {"type": "string", "enum": ["items", "councils"]},
                        "datum": {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]},
                    },
                }
            }
        },
    }
}


def _form_error(field: str, message: str) -> Exception:
    return invalid_body([{"loc": (field,), "msg": message, "type": "value_error"}])


@router.post(
    "/import",
    status_code=201,
    summary="Import councils or items from a file, all or nothing",
    response_model=None,
    responses={
        201: {"model": ImportDoc},
        400: {"model": ErrorDoc, "description": "An unreadable file, unknown datum or kind."},
        403: {"model": ErrorDoc, "description": "Not admin or a community account."},
        413: {"model": ErrorDoc, "description": "The file is over GRIDMAP_MAX_IMPORT_BYTES."},
        422: {
            "model": ErrorDoc,
            "description": "Bad rows (``rejected``: row, id, reason); nothing was written.",
        },
    },
    openapi_extra=_IMPORT_FORM,
)
async def import_file(request: Request, session: SessionDep, principal: Writer) -> JSONResponse:
    """As ``gridmap participation import``: every row checked first (a community account
    imports only its own community's rows), then all stored in one transaction."""
    limit = ImportSettings().max_import_bytes
    form = await read_multipart(request, limit=limit + IMPORT_FORM_OVERHEAD, max_files=1)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _form_error("file", "send the file as a part named file")
        kind = form.get("kind") or "items"
        if kind not in ("items", "councils"):
            raise _form_error("kind", "kind is items or councils")
        try:
            datum = parse_geographic_datum(str(form.get("datum") or "wgs84"))
        except ValueError as exc:
            raise _form_error("datum", str(exc)) from None
        name = pathlib.Path(upload.filename or "upload.csv").name
        suffix = pathlib.Path(name).suffix.lower()
        with tempfile.TemporaryDirectory(prefix="gridmap-participation-") as folder:
            path = pathlib.Path(folder) / f"upload{suffix}"
            path.write_bytes(await upload.read(limit + 1))
            report = await run_in_threadpool(_import, session, path, principal, kind, datum, limit)
    finally:
        await form.close()
    record_write(
        session,
        request,
        principal,
        f"participation.import.{kind}",
        object=f"file:{name}",
        area=principal.areas[0] if principal.areas else None,
        detail={"rows": report.rows, "datum": report.datum},
    )
    session.commit()
    return JSONResponse(
        {"kind": kind, "rows": report.rows, "source": report.source, "datum": report.datum},
        status_code=201,
    )


def _import(
    session: SessionDep,
    path: pathlib.Path,
    principal: Principal,
    kind: str,
    datum: Datum,
    limit: int,
) -> ImportReport:
    with translate_integrity_errors():
        return import_participation(
            session,
            path,
            principal,
            kind="councils" if kind == "councils" else "items",
            datum=datum,
            max_bytes=limit,
        )
