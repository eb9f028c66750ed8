"""Evidence photos over HTTP: who adds them at which stage, what is stored and served, the
limits, idempotent replays, who sees them, and the audit.

On the small district of ``tests/api/conftest.py``: grid 370705001001001 (west community
370705001001) with its primary grid manager 张伟; accounts are made in the test's
rolled-back session (``tests.accounts``), photos with Pillow (``tests.photo_files``).
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.db.models import Grid, Incident, IncidentPhoto, Staff, StaffGrid, StaffRole
from gis.settings import PhotoSettings
from tests import photo_files as files
from tests.accounts import key_headers, login_headers
from tests.api.conftest import SmallDistrict, point
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

GRID = "370705001001001"
WEST = "370705001001"
IN_GRID = (119.11, 36.73)
Headers = dict[str, str]


def staff_id(db: Session, name: str) -> int:
    return int(db.execute(text("SELECT id FROM staff WHERE name = :n"), {"n": name}).scalar_one())


@pytest.fixture
def people(db: Session, small_district: SmallDistrict) -> dict[str, Headers]:
    grid_002 = db.execute(select(Grid).where(Grid.code == "370705001001002")).scalar_one()
    neighbour = Staff(name="王芳", phone="13900002222", role=StaffRole.GRID_MANAGER)
    db.add(neighbour)
    db.flush()
    db.add(StaffGrid(staff_id=neighbour.id, grid_id=grid_002.id, is_primary=True))
    db.flush()
    return {
        "manager": login_headers(db, "zhangwei", "grid_manager", staff_id=staff_id(db, "张伟")),
        "neighbour": login_headers(db, "wangfang", "grid_manager", staff_id=neighbour.id),
        "community": login_headers(db, "west", "community", area_code=WEST),
        "planner": login_headers(db, "planner", "planner"),
        "mediator": login_headers(db, "mediator", "mediator", area_code=WEST),
        "key": {
            "Authorization": "Bearer "
            + key_headers(db, "bigdata", ("incidents:read", "incidents:write"))["X-API-Key"]
        },
    }


def report(client: TestClient, by: Headers, **kw: Any) -> dict[str, Any]:
    body = {"category": "exposed_garbage", "lon": IN_GRID[0], "lat": IN_GRID[1], **kw}
    answer: dict[str, Any] = ok(client.post("/api/v1/incidents", json=body, headers=by), 201)
    return answer


def took(client: TestClient, by: Headers, case: dict[str, Any], action: str, **kw: Any) -> Any:
    body = {"action": action, "expected_version": case["version"], **kw}
    return ok(client.post(f"/api/v1/incidents/{case['id']}/transitions", json=body, headers=by))


def send(
    client: TestClient,
    by: Headers,
    case_id: int,
    stage: str,
    *photos: bytes | tuple[str, bytes],
    keys: list[str] | None = None,
) -> Any:
    """POST the photos (bytes, or (file name, bytes)) as multipart/form-data."""
    parts = []
    for i, photo in enumerate(photos or (files.phone_jpeg(),)):
        name, data = photo if isinstance(photo, tuple) else (f"IMG_{i}.jpg", photo)
        parts.append(("file", (name, data, "image/jpeg")))
    form: dict[str, Any] = {"stage": stage}
    if keys is not None:
        form["client_key"] = keys
    return client.post(f"/api/v1/incidents/{case_id}/photos", files=parts, data=form, headers=by)


def stored(db: Session, case_id: int) -> list[tuple[str, str]]:
    rows = db.execute(
        select(IncidentPhoto.stage, IncidentPhoto.uploaded_by)
        .where(IncidentPhoto.incident_id == case_id)
        .order_by(IncidentPhoto.id)
    )
    return [(r.stage, r.uploaded_by) for r in rows]


# ------------------------------------------------------------------ stages and people


def test_each_stage_takes_photos_from_those_who_take_its_step(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    manager, community = people["manager"], people["community"]
    case = report(client, manager)
    [photo] = ok(send(client, manager, case["id"], "intake"), 201)
    assert photo["stage"] == "intake" and photo["uploaded_by_label"] == "张伟（网格员）"
    assert (photo["lon"], photo["lat"]) == pytest.approx(files.SPOT, abs=1e-6)
    taken = dt.datetime.fromisoformat(photo["taken_at"])
    assert taken == dt.datetime(2026, 12, 5, 6, 3, tzinfo=dt.UTC)  # 14:03 in Weifang
    assert (photo["width"], photo["height"]) == (900, 1200)
    assert photo["url"] == f"/api/v1/photos/{photo['id']}"
    assert photo["thumb_url"] == f"/api/v1/photos/{photo['id']}/thumb"

    assert_error(send(client, manager, case["id"], "handling"), 409, "reported", "intake")
    assert_error(send(client, people["planner"], case["id"], "intake"), 403)
    assert_error(send(client, people["key"], case["id"], "intake"), 403)
    assert_error(send(client, people["neighbour"], case["id"], "intake"), 404)
    assert_error(send(client, people["mediator"], case["id"], "intake"), 404)

    case = took(client, manager, case, "accept")
    ok(send(client, community, case["id"], "intake"), 201)
    case = took(client, community, case, "dispatch", handler_staff_id=staff_id(db, "张伟"))
    assert_error(send(client, manager, case["id"], "intake"), 409, "handling photos now")
    assert_error(send(client, manager, case["id"], "verification"), 409)
    ok(send(client, manager, case["id"], "handling", files.png()), 201)
    case = took(client, manager, case, "handle", note="已清理")
    ok(send(client, manager, case["id"], "handling", files.webp()), 201)
    case = took(client, manager, case, "feedback")
    refused = send(client, manager, case["id"], "verification")
    assert_error(refused, 403, "您处理过此案件", "核查结案须由他人进行")
    ok(send(client, community, case["id"], "verification"), 201)
    case = took(client, community, case, "verify")
    ok(send(client, community, case["id"], "verification"), 201)
    case = took(client, community, case, "evaluate", rating="satisfied")
    assert_error(send(client, community, case["id"], "verification"), 409, "no more photos")

    assert stored(db, case["id"]) == [
        ("intake", "张伟"),
        ("intake", "west"),
        ("handling", "张伟"),
        ("handling", "张伟"),
        ("verification", "west"),
        ("verification", "west"),
    ]
    writes = audit.entries(db, action="incident.photo")
    assert len(writes) == 6
    assert {(e.object, e.area) for e in writes} == {(f"incident:{case['id']}", GRID)}
    assert writes[-1].detail is not None and writes[-1].detail["stage"] == "intake"


# ------------------------------------------------------------------ what is served


def test_served_images_carry_no_metadata_and_are_cached_privately(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    manager = people["manager"]
    case = report(client, manager)
    [photo] = ok(send(client, manager, case["id"], "intake", files.phone_jpeg((3000, 2000))), 201)
    assert (photo["width"], photo["height"]) == (1365, 2048)
    for url, longest in ((photo["url"], 2048), (photo["thumb_url"], 320)):
        answer = client.get(url, headers=manager)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/jpeg"
        assert answer.headers["cache-control"].startswith("private, max-age=")
        image = Image.open(io.BytesIO(answer.content))
        assert image.format == "JPEG" and max(image.size) == longest
        assert image.width < image.height  # turned upright before EXIF went
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(0x8825) == {}  # no GPS IFD
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)
        for secret in (b"Exif", b"GPS", files.MAKER.encode(), b"13912345678"):
            assert secret not in answer.content
        etag = answer.headers["etag"]
        again = client.get(url, headers={**manager, "If-None-Match": etag})
        assert again.status_code == 304 and not again.content
    # The position and time are kept, in columns, for those who see them.
    row = db.execute(
        text("SELECT ST_X(geom), ST_Y(geom), taken_at FROM incident_photo WHERE id = :i"),
        {"i": photo["id"]},
    ).one()
    assert (row[0], row[1]) == pytest.approx(files.SPOT, abs=1e-6)
    assert row[2] == dt.datetime(2026, 12, 5, 6, 3, tzinfo=dt.UTC)


# ------------------------------------------------------------------ bad files, limits


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("empty.jpg", b"", "empty"),
        ("report.jpg", files.PDF, "PDF"),
        ("drawing.jpg", files.SVG, "SVG"),
        ("cut.jpg", files.phone_jpeg()[:-3000], "cannot be decoded in full"),
        ("both.jpg", files.phone_jpeg() + files.ZIP_TAIL, "ZIP"),
    ],
    ids=["empty", "pdf", "svg", "truncated", "polyglot"],
)
def test_a_file_that_is_not_a_whole_photo_is_a_415_and_nothing_is_stored(
    client: TestClient,
    db: Session,
    people: dict[str, Headers],
    name: str,
    data: bytes,
    says: str,
) -> None:
    case = report(client, people["manager"])
    good = files.phone_jpeg()
    answer = send(client, people["manager"], case["id"], "intake", good, (name, data))
    assert_error(answer, 415, name, says)
    assert stored(db, case["id"]) == []


def test_a_body_that_is_not_a_photo_form_is_refused_naming_the_field(
    client: TestClient, people: dict[str, Headers]
) -> None:
    manager = people["manager"]
    case = report(client, manager)
    url = f"/api/v1/incidents/{case['id']}/photos"
    as_json = client.post(url, json={"stage": "intake"}, headers=manager)
    assert_error(as_json, 415, "multipart/form-data")
    photo = [("file", ("a.jpg", files.phone_jpeg(), "image/jpeg"))]
    for form, field in (
        ({}, "stage"),
        ({"stage": "before"}, "stage"),
        ({"stage": "intake", "client_key": ["a", "b"]}, "client_key"),
        ({"stage": "intake", "client_key": ["x" * 65]}, "client_key"),
    ):
        body = assert_error(client.post(url, files=photo, data=form, headers=manager), 422)
        assert body["errors"][0]["parameter"] == field
    no_file = client.post(
        url, data={"stage": "intake"}, files={"other": ("x", b"1")}, headers=manager
    )
    assert assert_error(no_file, 422)["errors"][0]["parameter"] == "file"


def test_limits_on_bytes_pixels_and_photos_per_case(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    manager = people["manager"]
    case = report(client, manager)
    sent = files.phone_jpeg()
    client.app.state.photo_settings = PhotoSettings(  # type: ignore[attr-defined]
        max_bytes=len(sent) - 1, max_per_case=3, max_pixels=2_000_000
    )
    assert_error(send(client, manager, case["id"], "intake", sent), 413, "GRIDMAP_PHOTO_MAX_BYTES")
    client.app.state.photo_settings = PhotoSettings(  # type: ignore[attr-defined]
        max_bytes=len(sent) * 4, max_per_case=3, max_pixels=2_000_000
    )
    big = files.png((2000, 1200))
    assert_error(send(client, manager, case["id"], "intake", big), 413, "2,400,000")
    bomb = files.png_declaring(100_000, 100_000)
    assert_error(send(client, manager, case["id"], "intake", bomb), 413, "PIXELS")
    ok(send(client, manager, case["id"], "intake", sent, sent), 201)
    refused = send(client, manager, case["id"], "intake", sent, sent)
    assert_error(refused, 409, "holds 2 photos", "limit of 3")
    four = send(client, manager, case["id"], "intake", *[sent] * 4)
    assert four.status_code in (409, 422)  # more files than a case may hold at all
    assert len(stored(db, case["id"])) == 2
    huge = client.post(
        f"/api/v1/incidents/{case['id']}/photos",
        content=b"x" * (len(sent) * 12 + 70_000),
        headers={**manager, "Content-Type": "multipart/form-data; boundary=abc"},
    )
    assert_error(huge, 413, "request body is larger")


# ------------------------------------------------------------------ idempotent replays


def test_a_replayed_client_key_answers_the_stored_photo(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    manager, community = people["manager"], people["community"]
    case = report(client, manager)
    [first] = ok(send(client, manager, case["id"], "intake", keys=["q-1"]), 201)
    assert first["client_key"] == "q-1"
    [again] = ok(send(client, manager, case["id"], "intake", keys=["q-1"]), 200)
    assert again == first
    # The case moved on meanwhile: the queued replay still answers what was stored.
    case = took(client, manager, case, "accept")
    case = took(client, community, case, "dispatch", handler_staff_id=staff_id(db, "张伟"))
    [late] = ok(send(client, manager, case["id"], "intake", keys=["q-1"]), 200)
    assert late["id"] == first["id"]
    two = (files.png(), files.png())
    mixed = ok(send(client, manager, case["id"], "handling", *two, keys=["q-1", "q-2"]), 201)
    assert mixed[0]["id"] == first["id"] and mixed[1]["stage"] == "handling"
    twice = ok(send(client, manager, case["id"], "handling", *two, keys=["q-3", "q-3"]), 201)
    assert twice[0]["id"] == twice[1]["id"]
    assert [s for s, _ in stored(db, case["id"])] == ["intake", "handling", "handling"]
    assert len(audit.entries(db, action="incident.photo")) == 3


# ------------------------------------------------------------------ who sees them


@pytest.fixture
def petition(client: TestClient, db: Session, people: dict[str, Headers]) -> dict[str, Any]:
    """A petition (personal) of the west grid, accepted, with an intake photo; and an
    ordinary case of the same grid with one."""
    west = db.execute(select(Grid).where(Grid.code == GRID)).scalar_one()
    case = Incident(
        category="petition",
        reported_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
        status="accepted",
        geom=point(119.1103, 36.7151),
        grid_id=west.id,
        description="王某某反映",
    )
    db.add(case)
    db.flush()
    [photo] = ok(send(client, people["manager"], case.id, "intake"), 201)
    ordinary = report(client, people["manager"])
    [other] = ok(send(client, people["manager"], ordinary["id"], "intake"), 201)
    return {"id": case.id, "photo": photo, "ordinary": ordinary["id"], "other": other}


@pytest.mark.parametrize("who", ["manager", "community"])
def test_those_responsible_see_the_photos_and_each_read_is_audited(
    client: TestClient, db: Session, people: dict[str, Headers], petition: dict[str, Any], who: str
) -> None:
    headers = people[who]
    photo = petition["photo"]
    [listed] = ok(client.get(f"/api/v1/incidents/{petition['id']}/photos", headers=headers))
    assert listed == photo and listed["lon"] is not None
    detail = ok(client.get(f"/api/v1/incidents/{petition['id']}", headers=headers))
    assert detail["photos"] == [photo]
    assert client.get(photo["url"], headers=headers).status_code == 200
    assert client.get(photo["thumb_url"], headers=headers).status_code == 200
    ordinary = ok(client.get(f"/api/v1/incidents/{petition['ordinary']}", headers=headers))
    assert [p["id"] for p in ordinary["photos"]] == [petition["other"]["id"]]
    name = {"manager": "zhangwei", "community": "west"}[who]
    reads = [
        (e.object, e.detail) for e in reversed(audit.entries(db, action="personal.read", user=name))
    ]
    assert reads == [
        (f"incident:{petition['id']}", {"photos": [photo["id"]]}),
        (f"incident:{petition['id']}", {"photos": 1}),
        (f"photo:{photo['id']}", {"incident": petition["id"], "size": "full"}),
        (f"photo:{photo['id']}", {"incident": petition["id"], "size": "thumb"}),
        (f"incident:{petition['ordinary']}", {"photos": 1}),
    ]


@pytest.mark.parametrize("who", ["planner", "key"])
def test_a_planner_and_a_key_never_get_a_photo_or_its_url(
    client: TestClient, db: Session, people: dict[str, Headers], petition: dict[str, Any], who: str
) -> None:
    headers = people[who]
    for case_id, photo in (
        (petition["id"], petition["photo"]),
        (petition["ordinary"], petition["other"]),
    ):
        detail = client.get(f"/api/v1/incidents/{case_id}", headers=headers)
        assert detail.status_code == 200 and detail.json()["photos"] is None
        assert "/api/v1/photos" not in detail.text
        for path in (f"/api/v1/incidents/{case_id}/photos", photo["url"], photo["thumb_url"]):
            assert_error(client.get(path, headers=headers), 403)
    assert audit.entries(db, action="personal.read", user="planner") == []


@pytest.mark.parametrize("who", ["neighbour", "mediator"])
def test_out_of_reach_a_photo_does_not_exist(
    client: TestClient, people: dict[str, Headers], petition: dict[str, Any], who: str
) -> None:
    headers = people[who]
    photo = petition["photo"]
    missing = client.get("/api/v1/photos/999999999", headers=headers)
    assert_error(missing, 404, "no photo has id 999999999")
    for path in (photo["url"], photo["thumb_url"]):
        answer = client.get(path, headers=headers)
        assert answer.json()["description"] == missing.json()["description"].replace(
            "999999999", str(photo["id"])
        )
    assert_error(client.get(f"/api/v1/incidents/{petition['id']}/photos", headers=headers), 404)
    assert_error(client.get(f"/api/v1/incidents/{petition['id']}", headers=headers), 404)
