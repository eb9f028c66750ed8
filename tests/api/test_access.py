"""Every route declares who may use it, and the rule is enforced.

The walk over the route table is what keeps a new route from being open by
accident: it fails on any route without an ``api.access.Rule``.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.routing import Mount, Route

from api.access import Rule
from api.app import create_app
from tests.accounts import PASSWORD, key_headers, login_headers, make_account

NOT_API_ROUTES = {
    "/openapi.json": "the API's description, public like /docs",
    "/static": "the app's scripts, styles and vendored libraries, no data",
}
"""Routes that are not FastAPI routes (so take no dependencies) and why each is open."""


def rules_of(route: APIRoute) -> list[Rule]:
    found: list[Rule] = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Rule):
            found.append(dependant.call)
        stack.extend(dependant.dependencies)
    return found


def all_routes() -> list[Any]:
    app = create_app()
    routes: list[Any] = []
    for route in app.router.routes:
        inner = getattr(route, "original_router", None)
        routes.extend(inner.routes if inner is not None else [route])
    return routes


def test_every_route_declares_exactly_one_rule() -> None:
    routes = all_routes()
    api_routes = [r for r in routes if isinstance(r, APIRoute)]
    assert len(api_routes) >= 35
    missing = [f"{sorted(r.methods)} {r.path}" for r in api_routes if not rules_of(r)]
    assert missing == []
    several = [r.path for r in api_routes if len(rules_of(r)) > 1]
    assert several == []
    others = sorted(
        r.path for r in routes if isinstance(r, Route | Mount) and not isinstance(r, APIRoute)
    )
    assert others == sorted(NOT_API_ROUTES)


def test_without_credentials_data_is_refused(anonymous: Any) -> None:
    answer = anonymous.get("/api/v1/incidents")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.get("/api/v1/grids").status_code == 401
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/api/v1/facility-types").status_code == 200


def test_a_password_login_gives_a_bearer_token_that_says_who_you_are(
    anonymous: Any, db: Session
) -> None:
    make_account(db, "dongyuan", "community", area_code="370705001001")
    answer = anonymous.post(
        "/api/v1/auth/token", data={"username": "dongyuan", "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = anonymous.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json()
    assert (me["username"], me["role"], me["areas"]) == ("dongyuan", "community", ["370705001001"])


def test_a_wrong_user_and_a_wrong_password_answer_alike(anonymous: Any, db: Session) -> None:
    make_account(db, "someone", "planner")
    wrong_password = anonymous.post(
        "/api/v1/auth/token", data={"username": "someone", "password": "not-it-at-all"}
    )
    no_user = anonymous.post(
        "/api/v1/auth/token", data={"username": "nobody-here", "password": "not-it-at-all"}
    )
    assert wrong_password.status_code == no_user.status_code == 401
    assert wrong_password.json() == no_user.json()


def test_logins_are_throttled_after_repeated_failures(anonymous: Any, db: Session) -> None:
    make_account(db, "target", "planner")
    for _ in range(5):
        answer = anonymous.post(
            "/api/v1/auth/token", data={"username": "target", "password": "guess-guess"}
        )
        assert answer.status_code == 401
    refused = anonymous.post(
        "/api/v1/auth/token", data={"username": "target", "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_a_role_outside_the_rule_is_forbidden(anonymous: Any, db: Session) -> None:
    planner = login_headers(db, "planner1", "planner")
    answer = anonymous.post(
        "/api/v1/incidents/1/transitions",
        json={"action": "accept", "expected_version": 1},
        headers=planner,
    )
    assert answer.status_code == 403


def test_a_key_without_the_scope_is_forbidden(anonymous: Any, db: Session) -> None:
    reader = key_headers(db, "bigdata", ("features:read",))
    assert anonymous.get("/api/v1/grids", headers=reader).status_code == 200
    assert anonymous.get("/api/v1/incidents", headers=reader).status_code == 403


def test_a_revoked_key_is_refused(anonymous: Any, db: Session) -> None:
    from gis.accounts.keys import revoke_key

    headers = key_headers(db, "old-system", ("features:read",))
    revoke_key(db, "old-system")
    db.flush()
    answer = anonymous.get("/api/v1/grids", headers=headers)
    assert answer.status_code == 401


def test_a_public_layer_opens_that_layer_alone_to_anonymous_reads(
    engine: Any, db: Session, small_district: Any
) -> None:
    from api.dependencies import get_session
    from gis.settings import ServerSettings
    from tests.api.conftest import TestClient

    app = create_app(
        ServerSettings.model_validate({"GRIDMAP_PUBLIC_LAYERS": "facilities"}), engine=engine
    )
    app.dependency_overrides[get_session] = lambda: db
    with TestClient(app) as public:
        listed = public.get("/api/v1/facilities")
        assert listed.status_code == 200 and listed.json()["numberMatched"] == 2
        one = listed.json()["features"][0]["id"]
        assert public.get(f"/api/v1/facilities/{one}").status_code == 200
        assert public.get("/api/v1/grids").status_code == 401
        assert public.get("/api/v1/incidents").status_code == 401
        written = public.post(
            "/api/v1/facilities",
            json={"type": "kindergarten", "name": "匿名园", "lon": 119.11, "lat": 36.71},
        )
        assert written.status_code == 401


def test_an_expired_key_is_refused(anonymous: Any, db: Session) -> None:
    from sqlalchemy import text

    headers = key_headers(db, "short-lived", ("features:read",))
    assert anonymous.get("/api/v1/grids", headers=headers).status_code == 200
    db.execute(text("UPDATE api_key SET expires_at = now() - interval '1 second'"))
    db.flush()
    assert anonymous.get("/api/v1/grids", headers=headers).status_code == 401


def test_disabling_an_account_ends_its_logins_at_once(anonymous: Any, db: Session) -> None:
    from gis.accounts.accounts import disable_account

    headers = login_headers(db, "leaving", "planner")
    assert anonymous.get("/api/v1/me", headers=headers).status_code == 200
    disable_account(db, "leaving")
    db.flush()
    assert anonymous.get("/api/v1/me", headers=headers).status_code == 401
    again = anonymous.post("/api/v1/auth/token", data={"username": "leaving", "password": PASSWORD})
    assert again.status_code == 401
