"""HTML pages from the Jinja templates in api/templates, shared by every page route.

Templates extend ``base.html`` (or ``map_base.html`` for a full-window
Leaflet map), so the head, fonts and vendored assets live in one place. Data
for a page's script is embedded with :func:`script_json`, never as raw JSON:
a ``</script>`` inside a name must not end the element.

A page rendered for a request (``request=``) shows who is logged in with a
logout button (``_user.html``) and carries the login's CSRF token in
``<meta name="csrf-token">``, which the pages' scripts send back on every
state-changing request (``api.access``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from api import access
from api.security import csp_nonce
from gis.accounts.accounts import role_name_zh
from gis.principal import Principal
from layers.webmap import VENDOR_BASE

TEMPLATES = Path(__file__).resolve().parent / "templates"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False
)


def script_json(value: Any) -> Markup:
    """JSON safe inside a <script> element (``<``, ``>`` and ``&`` escaped)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def landing(principal: Principal) -> str:
    """Where a person lands after logging in: ``/my``, which sends each on to their own
    start page (``api.routes.field.home``: a grid manager's grid, other staff their inbox,
    a planner the coverage map)."""
    del principal  # /my decides, on every visit (an account's grids may change)
    return "/my"


def page_user(request: Request | None) -> dict[str, Any]:
    """``user`` (name, role in Chinese) and ``csrf`` (the login's CSRF token) of the
    person the route's rule found, for the page's user bar; empty for nobody."""
    if request is None:
        return {"user": None, "csrf": None}
    principal = access.principal_of(request)
    if principal.kind != "person" or principal.role is None:
        return {"user": None, "csrf": access.csrf_for(request)}
    user = {"name": principal.name, "role": principal.role.value}
    user["role_zh"] = role_name_zh(principal.role)
    return {"user": user, "csrf": access.csrf_for(request)}


def render_page(template: str, request: Request | None = None, **context: Any) -> str:
    """The template rendered with ``vendor`` (the offline asset base), ``csp_nonce`` (the
    request's script nonce: an inline ``<script>`` runs only with it, ``api.security``),
    the logged-in person of ``request`` (:func:`page_user`) and ``context``."""
    return _ENV.get_template(template).render(
        vendor=VENDOR_BASE, csp_nonce=csp_nonce(), **page_user(request), **context
    )


def error_page(request: Request, status: int, heading: str, message: str, home: str) -> str:
    """A page saying why the one asked for is not shown (404, 403), with the user bar and
    a way back to ``home`` (the person's own start page)."""
    return render_page(
        "error.html",
        request,
        title=heading,
        status=status,
        heading=heading,
        message=message,
        home=home,
    )


__all__ = [
    "TEMPLATES",
    "error_page",
    "landing",
    "page_user",
    "render_page",
    "script_json",
]
