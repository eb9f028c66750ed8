"""The browser's login: a Chinese login page (English at ``?lang=en``), logout.

``POST /login`` checks the password exactly as ``POST /api/v1/auth/token``
does (``api.routes.auth.log_in``: the same answer for a wrong user and a wrong
password, throttling, audit) and opens a cookie login: the cookie
``api.access.COOKIE`` is HttpOnly (no script reads it), SameSite=Lax (another
site's page cannot send it along with a POST) and Secure behind TLS
(``GRIDMAP_COOKIE_SECURE``). Each page then carries the CSRF token derived
from it (``api.pages``). The browser is sent on to ``next`` when that is a
path of this site (never another site: an open redirect would lend our name
to a phishing page), else to the landing page of the role (``api.pages.landing``).

A login form is itself a target of CSRF ("login CSRF": another site logs the
victim in as the attacker, who then reads what the victim files), so a POST
whose ``Origin`` or ``Referer`` names another host is refused.

``POST /logout`` ends the login (its row is revoked: the old cookie no longer
works anywhere), clears the cookie and shows the login page again; it needs
the page's CSRF token, so that another site cannot log people out.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import access
from api.dependencies import SessionDep, SettingsDep
from api.pages import landing, render_page
from api.routes.auth import log_in
from api.routing import ReadRetryRoute
from gis.accounts import audit, logins
from gis.errors import NotAuthenticatedError, TooManyAttemptsError
from gis.lang import Lang as Language
from gis.principal import Principal

router = APIRouter(route_class=ReadRetryRoute, include_in_schema=False)

PublicDep = Annotated[Principal, Depends(access.PUBLIC)]

LOGIN_PATH = "/login"
NEXT_MAX = 2000
"""Characters of a ``next`` path kept; a longer one is dropped for the landing page."""

Lang = Literal["zh", "en"]

TEXTS: dict[Lang, dict[str, str]] = {
    "zh": {
        "title": "登录 · 网格化管理",
        "heading": "网格化管理系统登录",
        "username": "用户名",
        "password": "密码",
        "submit": "登录",
        "other_lang": "English",
        "other_lang_code": "en",
        "missing": "请输入用户名和密码",
        "cross_site": "登录请求来自其他网站，已拒绝：请直接打开本站的登录页登录",
        "logout_refused": "退出请求缺少本站页面的校验码，已拒绝：请在本站页面上点击“退出登录”",
    },
    "en": {
        "title": "Log in · grid management",
        "heading": "Grid management: log in",
        "username": "Username",
        "password": "Password",
        "submit": "Log in",
        "other_lang": "中文",
        "other_lang_code": "zh-CN",
        "missing": "Enter your username and password",
        "cross_site": "This login came from another site's page and was refused: open this "
        "site's login page and log in there",
        "logout_refused": "This logout did not come from one of this site's pages and was "
        "refused: use the logout button on a page of this site",
    },
}


def _lang(value: str | None) -> Lang:
    return "en" if value == "en" else "zh"


def local_path(value: str | None) -> str | None:
    """``value`` if it is a path on this site (``/incidents?x=1``), else None.

    ``//evil.example`` and ``/\\evil.example`` are other hosts to a browser;
    a control character could split a header. The login and logout pages
    themselves are not destinations.
    """
    if not value or len(value) > NEXT_MAX or not value.startswith("/"):
        return None
    if value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, "/logout"):
        return None
    return value


def _from_this_site(request: Request) -> bool:
    """False when the ``Origin`` (else ``Referer``) header names another host.

    Browsers send ``Origin`` with every POST from a page; a request without
    either header (a script, a privacy setting) is not from a page of another site.
    """
    host = (request.headers.get("host") or "").lower()
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value is None:
            continue
        if value == "null":  # a sandboxed frame or a data: page: never ours
            return False
        return urlsplit(value).netloc.lower() == host
    return True


def _login_form(
    lang: Lang,
    *,
    next_path: str | None = None,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    texts = TEXTS[lang]
    other: dict[str, str] = {} if lang == "en" else {"lang": "en"}
    target = local_path(next_path)
    if target:
        other["next"] = target
    html = render_page(
        "login.html",
        title=texts["title"],
        t=texts,
        lang="en" if lang == "en" else "zh-CN",
        next=target,
        username=username,
        error=error,
        other_lang_url=f"{LOGIN_PATH}?{urlencode(other)}" if other else LOGIN_PATH,
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_page(
    _public: PublicDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=NEXT_MAX)] = None,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    """The login form; after logging in the browser goes on to ``next``."""
    return _login_form(_lang(lang), next_path=next_path)


@router.post(LOGIN_PATH, response_class=HTMLResponse)
def submit_login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _public: PublicDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "",
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """Log in: 303 on to ``next`` or the role's page with the login cookie set; the
    form again with the reason otherwise (401 wrong name or password, 429 too
    many failures lately, 403 a form posted from another site)."""
    language = _lang(lang)
    texts = TEXTS[language]
    username = username.strip()[:64]
    if not _from_this_site(request):
        return _login_form(language, error=texts["cross_site"], status=403)
    if not username or not password:
        return _login_form(
            language, error=texts["missing"], status=401, next_path=next_path, username=username
        )
    lifetime = dt.timedelta(seconds=settings.session_lifetime_s)
    try:
        account, token = log_in(session, request, username, password, "cookie", lifetime)
    except TooManyAttemptsError as exc:
        headers = {"Retry-After": str(exc.retry_after_s)}
        return _login_form(
            language,
            error=exc.text(Language(language)),
            status=429,
            headers=headers,
            next_path=next_path,
            username=username,
        )
    except NotAuthenticatedError as exc:
        return _login_form(
            language,
            error=exc.text(Language(language)),
            status=401,
            next_path=next_path,
            username=username,
        )
    target = local_path(next_path) or landing(account.principal())
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        access.COOKIE,
        token,
        max_age=settings.session_lifetime_s,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/logout")
def submit_logout(
    request: Request,
    session: SessionDep,
    _public: PublicDep,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """End the browser's login and go to the login page; 403 without the page's CSRF
    token (form field ``csrf_token`` or header ``X-CSRF-Token``)."""
    cookie = request.cookies.get(access.COOKIE)
    if cookie:
        sent = request.headers.get(access.CSRF_HEADER) or csrf_token
        if not access.csrf_matches(sent, cookie):
            return _login_form("zh", error=TEXTS["zh"]["logout_refused"], status=403)
        principal = logins.login_principal(session, cookie, "cookie")
        logins.close_login(session, cookie)
        if principal is not None:
            audit.record(session, principal, "logout", client=access.client_address(request))
        session.commit()
    response = RedirectResponse(LOGIN_PATH, status_code=303, headers={"Cache-Control": "no-store"})
    access.clear_login_cookie(response, request)
    return response
