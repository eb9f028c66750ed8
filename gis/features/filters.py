"""CQL2 filters (OGC API - Features Part 3) as SQLAlchemy expressions.

The text is parsed by pygeofilter (``cql2-text``, or ``cql2-json``) and its syntax
tree walked here into an expression over a source's columns. Every value a filter
holds goes to PostgreSQL as a bound parameter; names must be queryables of the
collection; nothing of the filter's text ever becomes SQL text. What is supported
(and declared as conformance classes by the API): comparisons (``=``, ``<>``, ``<``,
``<=``, ``>``, ``>=``), ``LIKE`` (``%`` and ``_``, ``\\`` escapes), ``IN``,
``BETWEEN``, ``IS NULL``, ``AND``/``OR``/``NOT``, ``CASEI``/``LOWER`` of text, the
spatial predicates ``S_INTERSECTS``, ``S_DISJOINT``, ``S_CONTAINS``, ``S_WITHIN``,
``S_TOUCHES``, ``S_CROSSES``, ``S_OVERLAPS``, ``S_EQUALS`` and ``BBOX`` on the
``geometry`` queryable, dates and timestamps (``DATE('…')``, ``TIMESTAMP('…')``)
compared with date and date-time properties, and pygeofilter's temporal operators
``T_AFTER``, ``T_BEFORE``, ``T_EQUALS``, ``T_DURING``, ``T_INTERSECTS`` on them.
Anything else is an ``InvalidParameterError`` (400) naming it, in both languages.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import shapely
from lark.exceptions import LarkError, UnexpectedInput
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    ColumnElement,
    and_,
    func,
    literal,
    not_,
    or_,
    true,
)
from sqlalchemy.dialects.postgresql import BYTEA

from gis.errors import InvalidParameterError
from gis.features.collections import Collection, Property
from gis.features.crs import CRS84, Crs, geometry_to_wgs84
from gis.geo.datum import STORAGE_SRID, WGS84
from gis.lang import Texts

GEOMETRY = "geometry"
"""The queryable name of an item's geometry in filters."""
FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 20_000
"""Longer filters are refused before parsing: the parser's work grows with the text."""
MAX_NODES = 500
"""Predicates and literals a filter may hold."""

_DEFAULT_CRS = Crs(CRS84, WGS84)


def queryable_properties(coll: Collection) -> tuple[Property, ...]:
    """What a filter may name besides ``geometry``: the item's ``id`` and its properties."""
    return (Property("id", coll.id_type, Texts("编号", "id")), *coll.properties)


def invalid(en: str, zh: str) -> InvalidParameterError:
    return InvalidParameterError(f"filter: {en}", zh=f"筛选条件 filter：{zh}")


def parse(text: str, lang: str = "cql2-text") -> ast.AstType:
    """The syntax tree of a filter; a 400 saying where the text stops making sense."""
    if lang not in FILTER_LANGS:
        raise InvalidParameterError(
            f"filter-lang {lang[:40]!r} is not supported; use one of: {', '.join(FILTER_LANGS)}",
            zh=f"不支持 filter-lang={lang[:40]!r}；请使用：{'、'.join(FILTER_LANGS)}",
        )
    if len(text) > MAX_FILTER_CHARS:
        raise invalid(
            f"longer than {MAX_FILTER_CHARS} characters; send a shorter one",
            f"超过 {MAX_FILTER_CHARS} 个字符，请缩短",
        )
    if "\x00" in text:
        raise invalid("holds a NUL character", "含有 NUL 字符")
    try:
        if lang == "cql2-json":
            return parse_cql2_json(text)
        return parse_cql2_text(text)
    except UnexpectedInput as exc:
        column = getattr(exc, "column", "?")
        raise invalid(
            f"not valid CQL2 text at column {column} (e.g. name LIKE '%路%' AND floors > 5; "
            "text in single quotes, property names as GET …/queryables lists them)",
            f"第 {column} 列处不是有效的 CQL2 文本（示例：name LIKE '%路%' AND floors > 5；"
            "文字用单引号，属性名见 …/queryables）",
        ) from None
    except (LarkError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        kind = "CQL2 JSON" if lang == "cql2-json" else "CQL2 text"
        raise invalid(
            f"not valid {kind}: {str(exc)[:200]}", f"不是有效的 {kind}：{str(exc)[:200]}"
        ) from None
    except RecursionError:
        raise invalid("nested too deeply", "嵌套过深") from None


class _Walker:
    """Turns one syntax tree into an expression over ``columns`` (name → column)."""

    def __init__(
        self, coll: Collection, columns: Mapping[str, Any], geometry: Any, crs: Crs
    ) -> None:
        self.coll = coll
        self.columns = columns
        self.geometry = geometry
        self.props: dict[str, Property] = {p.name: p for p in queryable_properties(coll)}
        self.crs = crs
        self.nodes = 0

    # ---- conditions ------------------------------------------------------------------

    def condition(self, node: Any) -> ColumnElement[bool]:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise invalid(f"more than {MAX_NODES} terms", f"超过 {MAX_NODES} 项")
        handler = _CONDITIONS.get(type(node))
        if handler is None:
            raise self._unsupported(node)
        return handler(self, node)

    def _and(self, node: ast.And) -> ColumnElement[bool]:
        return and_(self.condition(node.lhs), self.condition(node.rhs))

    def _or(self, node: ast.Or) -> ColumnElement[bool]:
        return or_(self.condition(node.lhs), self.condition(node.rhs))

    def _not(self, node: ast.Not) -> ColumnElement[bool]:
        return not_(self.condition(node.sub_node))

    def _include(self, node: ast.Include) -> ColumnElement[bool]:
        return not_(true()) if node.not_ else true()

    def _compare(self, node: ast.Comparison) -> ColumnElement[bool]:
        lhs, rhs = node.lhs, node.rhs
        op = node.op.value
        if not self._is_property(lhs) and self._is_property(rhs):
            lhs, rhs = rhs, lhs
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        column, prop = self.scalar(lhs)
        value = self.value(rhs, prop)
        ops: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
            "=": lambda a, b: a == b,
            "<>": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        return ops[op](column, value)

    def _between(self, node: ast.Between) -> ColumnElement[bool]:
        column, prop = self.scalar(node.lhs)
        if prop.type in ("string", "boolean"):
            raise invalid(
                f"BETWEEN needs a number, date or time; {prop.name} is {prop.type}",
                f"BETWEEN 只用于数值、日期或时间；{prop.name} 是 {prop.type}",
            )
        clause = column.between(self.value(node.low, prop), self.value(node.high, prop))
        return not_(clause) if node.not_ else clause

    def _like(self, node: ast.Like) -> ColumnElement[bool]:
        column, prop = self.scalar(node.lhs)
        if prop.type != "string":
            raise invalid(
                f"LIKE needs a text property; {prop.name} is {prop.type}",
                f"LIKE 只用于文字属性；{prop.name} 是 {prop.type}",
            )
        pattern = self.value(node.pattern, prop)
        clause = (
            column.ilike(pattern, escape="\\") if node.nocase else column.like(pattern, escape="\\")
        )
        return not_(clause) if node.not_ else clause

    def _in(self, node: ast.In) -> ColumnElement[bool]:
        column, prop = self.scalar(node.lhs)
        if not node.sub_nodes:
            raise invalid("IN needs at least one value", "IN 至少需要一个值")
        self.nodes += len(node.sub_nodes)
        if self.nodes > MAX_NODES:
            raise invalid(f"more than {MAX_NODES} terms", f"超过 {MAX_NODES} 项")
        items = [self.value(v, prop) for v in node.sub_nodes]
        clause = column.in_(items)
        return not_(clause) if node.not_ else clause

    def _is_null(self, node: ast.IsNull) -> ColumnElement[bool]:
        if self._is_geometry(node.lhs):
            column = self.geometry
        else:
            column, _ = self.scalar(node.lhs)
        return column.is_not(None) if node.not_ else column.is_(None)

    def _spatial(self, node: ast.SpatialComparisonPredicate) -> ColumnElement[bool]:
        lhs, rhs = node.lhs, node.rhs
        if not self._is_geometry(lhs) and self._is_geometry(rhs):
            lhs, rhs = rhs, lhs
            swapped = {"CONTAINS": "WITHIN", "WITHIN": "CONTAINS"}
            name = swapped.get(node.op.name, node.op.name)
        else:
            name = node.op.name
        if not self._is_geometry(lhs):
            raise invalid(
                f"{node.op.value} compares the {GEOMETRY!r} queryable with a geometry, "
                f"e.g. S_INTERSECTS({GEOMETRY}, POLYGON((119.1 36.7,119.2 36.7,119.2 36.8,"
                "119.1 36.7)))",
                f"{node.op.value} 须比较 {GEOMETRY!r} 与一个几何，例如 S_INTERSECTS({GEOMETRY}, "
                "POLYGON((119.1 36.7,119.2 36.7,119.2 36.8,119.1 36.7)))",
            )
        other = self.geometry_literal(rhs)
        functions = {
            "INTERSECTS": func.ST_Intersects,
            "DISJOINT": func.ST_Disjoint,
            "CONTAINS": func.ST_Contains,
            "WITHIN": func.ST_Within,
            "TOUCHES": func.ST_Touches,
            "CROSSES": func.ST_Crosses,
            "OVERLAPS": func.ST_Overlaps,
            "EQUALS": func.ST_Equals,
        }
        result: ColumnElement[bool] = functions[name](self.geometry, other)
        return result

    def _bbox(self, node: ast.BBox) -> ColumnElement[bool]:
        if not self._is_geometry(node.lhs):
            raise invalid(
                f"BBOX applies to the {GEOMETRY!r} queryable", f"BBOX 只用于 {GEOMETRY!r}"
            )
        numbers = [node.minx, node.miny, node.maxx, node.maxy]
        if not all(isinstance(n, int | float) and math.isfinite(n) for n in numbers):
            raise invalid("BBOX needs four finite numbers", "BBOX 需要四个有限数值")
        box = shapely.box(*numbers)
        result: ColumnElement[bool] = func.ST_Intersects(self.geometry, self._bound(box))
        return result

    def _temporal(self, node: ast.TemporalPredicate) -> ColumnElement[bool]:
        column, prop = self.scalar(node.lhs)
        if prop.type not in ("date", "date-time"):
            raise invalid(
                f"{node.op.value} needs a date or time property; {prop.name} is {prop.type}",
                f"{node.op.value} 只用于日期或时间属性；{prop.name} 是 {prop.type}",
            )
        rhs = node.rhs
        if isinstance(rhs, values.Interval):
            start = None if rhs.start is None else self.value(rhs.start, prop)
            end = None if rhs.end is None else self.value(rhs.end, prop)
        else:
            start = end = self.value(rhs, prop)
        name = node.op.name
        if name == "AFTER" and end is not None:
            return column > end
        if name == "BEFORE" and start is not None:
            return column < start
        if name == "TEQUALS" and start is not None and start is end:
            return column == start
        if name in ("DURING", "TOVERLAPS") or (name == "TEQUALS" and start is not end):
            parts = []
            if start is not None:
                parts.append(column >= start)
            if end is not None:
                parts.append(column <= end)
            return and_(true(), *parts)
        raise self._unsupported(node)

    # ---- operands --------------------------------------------------------------------

    def _is_property(self, node: Any) -> bool:
        return isinstance(node, ast.Attribute) or (
            isinstance(node, ast.Function)
            and node.name.lower() in ("lower", "casei")
            and len(node.arguments) == 1
            and isinstance(node.arguments[0], ast.Attribute)
        )

    def _is_geometry(self, node: Any) -> bool:
        return isinstance(node, ast.Attribute) and node.name == GEOMETRY

    def scalar(self, node: Any) -> tuple[Any, Property]:
        """A property's column (maybe lower-cased) and its definition."""
        if isinstance(node, ast.Function) and self._is_property(node):
            column, prop = self.scalar(node.arguments[0])
            if prop.type != "string":
                raise invalid(
                    f"CASEI needs a text property; {prop.name} is {prop.type}",
                    f"CASEI 只用于文字属性；{prop.name} 是 {prop.type}",
                )
            return func.lower(column), prop
        if not isinstance(node, ast.Attribute):
            raise invalid(
                f"expected a property name where {self._show(node)} is",
                f"此处应为属性名，而不是 {self._show(node)}",
            )
        if node.name == GEOMETRY:
            raise invalid(
                f"{GEOMETRY!r} can only be used in spatial predicates (S_INTERSECTS, BBOX, …)",
                f"{GEOMETRY!r} 只能用于空间谓词（S_INTERSECTS、BBOX 等）",
            )
        found = self.props.get(node.name)
        if found is None:
            names = ", ".join([*self.props, GEOMETRY])
            shown = self._show(node.name)
            raise invalid(
                f"{self.coll.id} has no queryable {shown}; its queryables: {names}",
                f"{self.coll.id} 没有可查询属性 {shown}；可查询属性：{names}",
            )
        return self.columns[node.name], found

    def value(self, node: Any, prop: Property) -> Any:
        """A literal checked against ``prop``'s type, as a bound parameter."""
        if (
            isinstance(node, ast.Function)
            and node.name.lower() in ("lower", "casei")
            and len(node.arguments) == 1
            and isinstance(node.arguments[0], str)
        ):
            return func.lower(literal(node.arguments[0]))
        kind = prop.type
        ok = False
        value = node
        if kind == "string":
            ok = isinstance(node, str)
        elif kind == "integer":
            ok = isinstance(node, int) and not isinstance(node, bool)
            if not ok and isinstance(node, float) and math.isfinite(node):
                ok = True
        elif kind == "number":
            ok = isinstance(node, int | float) and not isinstance(node, bool)
            ok = ok and math.isfinite(node)
        elif kind == "boolean":
            ok = isinstance(node, bool)
        elif kind == "date":
            if isinstance(node, dt.datetime):
                value, ok = node.date(), True
            else:
                ok = isinstance(node, dt.date)
        elif kind == "date-time":
            if isinstance(node, dt.datetime):
                ok = True
                if node.tzinfo is None:
                    value = node.replace(tzinfo=dt.UTC)
            elif isinstance(node, dt.date):
                value, ok = dt.datetime(node.year, node.month, node.day, tzinfo=dt.UTC), True
        if not ok:
            shown = self._show(node)
            example = {
                "string": "'text'",
                "integer": "12",
                "number": "1.5",
                "boolean": "true",
                "date": "DATE('2024-05-01')",
                "date-time": "TIMESTAMP('2024-05-01T08:00:00Z')",
            }[kind]
            raise invalid(
                f"{prop.name} is {kind}, but is compared with {shown}; write e.g. {example}",
                f"{prop.name} 的类型是 {kind}，却与 {shown} 比较；应写作如 {example}",
            )
        return literal(value)

    def geometry_literal(self, node: Any) -> Any:
        if isinstance(node, values.Geometry | values.Envelope):
            geo = node.geometry
            try:
                geom = shape(json.loads(json.dumps(geo)))
            except (ValueError, TypeError, KeyError, AttributeError, IndexError):
                raise invalid("a geometry is malformed", "几何格式错误") from None
            return self._bound(geom)
        raise invalid(
            f"expected a geometry (WKT such as POINT(119.16 36.72)) where {self._show(node)} is",
            f"此处应为几何（WKT，如 POINT(119.16 36.72)），而不是 {self._show(node)}",
        )

    def _bound(self, geom: BaseGeometry) -> Any:
        coords = shapely.get_coordinates(geom)
        if geom.is_empty or not len(coords) or not bool(np.isfinite(coords).all()):
            raise invalid("a geometry is empty or not finite", "几何为空或含非有限数值")
        geom = geometry_to_wgs84(geom, self.crs)
        return func.ST_GeomFromWKB(literal(shapely.to_wkb(geom), BYTEA), STORAGE_SRID)

    @staticmethod
    def _show(node: Any) -> str:
        if isinstance(node, ast.Attribute):
            node = node.name
        text = repr(node)[:60]
        return text.encode("unicode_escape").decode("ascii") if "\\" in text else text

    def _unsupported(self, node: Any) -> InvalidParameterError:
        name = type(node).__name__
        return invalid(
            f"{name} is not supported here; see /ogc/conformance for what is",
            f"不支持 {name}；支持的内容见 /ogc/conformance",
        )


_CONDITIONS: dict[type, Callable[[_Walker, Any], ColumnElement[bool]]] = {
    ast.And: _Walker._and,
    ast.Or: _Walker._or,
    ast.Not: _Walker._not,
    ast.Include: _Walker._include,
    ast.Between: _Walker._between,
    ast.Like: _Walker._like,
    ast.In: _Walker._in,
    ast.IsNull: _Walker._is_null,
    ast.BBox: _Walker._bbox,
}
for _cls in (
    ast.Equal,
    ast.NotEqual,
    ast.LessThan,
    ast.LessEqual,
    ast.GreaterThan,
    ast.GreaterEqual,
):
    _CONDITIONS[_cls] = _Walker._compare
for _cls in (
    ast.GeometryIntersects,
    ast.GeometryDisjoint,
    ast.GeometryContains,
    ast.GeometryWithin,
    ast.GeometryTouches,
    ast.GeometryCrosses,
    ast.GeometryOverlaps,
    ast.GeometryEquals,
):
    _CONDITIONS[_cls] = _Walker._spatial
for _cls in (ast.TimeAfter, ast.TimeBefore, ast.TimeEquals, ast.TimeDuring, ast.TimeOverlaps):
    _CONDITIONS[_cls] = _Walker._temporal


def to_clause(
    coll: Collection,
    columns: Mapping[str, Any],
    text: str,
    *,
    lang: str = "cql2-text",
    crs: Crs | None = None,
) -> ColumnElement[bool]:
    """The WHERE clause of the filter ``text`` over ``columns`` (the source's, by name,
    ``geom`` among them), geometries read in ``crs`` (default CRS84)."""
    tree = parse(text, lang)
    walker = _Walker(coll, columns, columns["geom"], crs or _DEFAULT_CRS)
    try:
        return walker.condition(tree)
    except RecursionError:
        raise invalid("nested too deeply", "嵌套过深") from None


def property_equals(coll: Collection, columns: Any, name: str, text: str) -> ColumnElement[bool]:
    """``name = text`` with ``text`` read as the property's type (a query parameter
    ``?floors=6``); a 400 naming the property when it is not of that type."""
    prop = {p.name: p for p in queryable_properties(coll)}.get(name)
    if prop is None:
        raise invalid(f"{coll.id} has no queryable {name!r}", f"{coll.id} 没有可查询属性 {name!r}")
    value: Any = text
    try:
        if prop.type == "integer":
            value = int(text)
        elif prop.type == "number":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
        elif prop.type == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            value = text.lower() == "true"
        elif prop.type == "date":
            value = dt.date.fromisoformat(text)
        elif prop.type == "date-time":
            value = dt.datetime.fromisoformat(text)
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
    except ValueError:
        shown = text[:40].encode("unicode_escape").decode("ascii")
        raise InvalidParameterError(
            f"{name} is {prop.type}; {shown!r} is not one",
            zh=f"{name} 的类型是 {prop.type}；{shown!r} 不是该类型的值",
        ) from None
    clause: ColumnElement[bool] = columns[name] == literal(value)
    return clause


_TEMPORAL_ROLES = {
    ("instant", True): "primary-instant",
    ("validity", True): "primary-interval-start",
    ("validity", False): "primary-interval-end",
}


def queryables(coll: Collection, schema_id: str) -> dict[str, Any]:
    """The collection's queryables as a JSON Schema (Part 3), ``$id`` ``schema_id``."""
    props: dict[str, Any] = {
        GEOMETRY: {
            "title": "geometry",
            "format": f"geometry-{coll.geometry_type.lower()}",
            "x-ogc-role": "primary-geometry",
        }
    }
    for p in queryable_properties(coll):
        entry: dict[str, Any] = {"title": p.title.en, "description": p.title.zh}
        if p.type in ("date", "date-time"):
            entry.update(type="string", format=p.type)
        else:
            entry["type"] = p.type
        role = _TEMPORAL_ROLES.get((coll.temporal.value, p.name in coll.temporal_columns[:1]))
        if p.name in coll.temporal_columns and role is not None:
            entry["x-ogc-role"] = role
        props[p.name] = entry
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "type": "object",
        "title": coll.title.en,
        "description": coll.title.zh,
        "properties": props,
        "additionalProperties": False,
        # The draft's list (GDAL 3.6's OAPIF driver reads only this to decide which
        # fields it may send in a server-side filter).
        "queryables": [
            {"id": name, "type": entry.get("type", "geometry")} for name, entry in props.items()
        ],
    }
