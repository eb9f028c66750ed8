"""HTML pages from the Jinja templates in api/templates, shared by every page route.

Templates extend ``base.html`` (or ``map_base.html`` for a full-window
Leaflet map), so the head, fonts and vendored assets live in one place. Data
for a page's script is embedded with :func:`script_json`, never as raw JSON:
a ``</script>`` inside a name must not end the element.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from layers.webmap import VENDOR_BASE

TEMPLATES = Path(__file__).resolve().parent / "templates"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False
)


def script_json(value: Any) -> Markup:
    """JSON safe inside a <script> element (``<``, ``>`` and ``&`` escaped)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def render_page(template: str, **context: Any) -> str:
    """The template rendered with ``vendor`` (the offline asset base) and ``context``."""
    return _ENV.get_template(template).render(vendor=VENDOR_BASE, **context)


__all__ = ["TEMPLATES", "render_page", "script_json"]
