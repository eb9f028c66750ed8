"""What each layer's file holds: its columns, geometry types, table, and how names match."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

# In the order a deployment loads them: each layer is checked against the ones before it.
LAYERS = (
    "districts",
    "subdistricts",
    "communities",
    "grids",
    "buildings",
    "facilities",
    "incidents",
)

ColumnKind = Literal["code", "text", "int", "number", "datetime"]


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer and how its values are checked."""

    name: str
    kind: ColumnKind
    required: bool = False
    default: Any = None
    minimum: float | None = None
    exclusive_minimum: bool = False
    max_len: int | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerSpec:
    """What a layer's file must contain and what geometry types it takes."""

    columns: tuple[Column, ...]
    geometry_types: frozenset[str]
    ident: str  # the column that names a row in reports


_POLYGONS = frozenset({"Polygon", "MultiPolygon"})
_POINT = frozenset({"Point"})


def _area(*columns: Column) -> LayerSpec:
    """An admin area or grid: polygons named by their code."""
    return LayerSpec(
        columns=(
            Column("code", "code", required=True),
            Column("name", "text", required=True),
            *columns,
        ),
        geometry_types=_POLYGONS,
        ident="code",
    )


def _count(name: str, *, required: bool = False) -> Column:
    """A head count: a whole number, never negative; 0 where an optional one is left out."""
    return Column(name, "int", required=required, default=None if required else 0, minimum=0)


SPECS: dict[str, LayerSpec] = {
    "districts": _area(_count("households"), _count("population"), _count("floating_population")),
    "subdistricts": _area(
        Column("parent_code", "code"),
        _count("households"),
        _count("population"),
        _count("floating_population"),
    ),
    "communities": _area(
        Column("parent_code", "code", required=True),
        _count("households", required=True),
        _count("population", required=True),
        _count("floating_population"),
    ),
    "grids": _area(_count("households"), _count("population")),
    "buildings": LayerSpec(
        columns=(
            Column("ext_id", "text"),
            _count("households", required=True),
            Column("floors", "int", minimum=0, exclusive_minimum=True),
            Column("address", "text"),
            Column("name", "text"),
        ),
        geometry_types=_POINT | _POLYGONS,
        ident="ext_id",
    ),
    "facilities": LayerSpec(
        columns=(
            Column("ext_id", "text"),
            Column("type", "text", required=True, max_len=40, aliases=("type_code",)),
            Column("name", "text", required=True),
            Column("capacity", "int", minimum=0),
            Column("floor_area_m2", "number", minimum=0, exclusive_minimum=True),
            Column("opening_hours", "text"),
            Column("address", "text"),
        ),
        geometry_types=_POINT,
        ident="ext_id",
    ),
    "incidents": LayerSpec(
        columns=(
            Column("ext_id", "text"),
            Column("category", "text", required=True, max_len=40),
            Column("reported_at", "datetime", required=True),
            Column("status", "text", max_len=20),
            Column("description", "text"),
            Column("source", "text", max_len=20),
            Column("address", "text"),
            Column("handler", "text"),
            # The history of a past case (see gis.imports._history); times stay text here
            # because handled_at, feedback_at and rework_at may list several.
            Column("accepted_at", "text"),
            Column("dispatched_at", "text"),
            Column("handled_at", "text"),
            Column("feedback_at", "text"),
            Column("rework_at", "text"),
            Column("closed_at", "text"),
            Column("evaluated_at", "text"),
            Column("cancelled_at", "text"),
            Column("cancel_reason", "text"),
        ),
        geometry_types=_POINT,
        ident="ext_id",
    ),
}

# Layers whose rows are areas named by code (the others have an optional ext_id).
AREA_LAYERS = ("districts", "subdistricts", "communities", "grids")

TABLES = {
    "districts": "admin_area",
    "subdistricts": "admin_area",
    "communities": "admin_area",
    "grids": "grid",
    "buildings": "building",
    "facilities": "facility",
    "incidents": "incident",
}


def resolve_columns(spec: LayerSpec, present: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Map each spec column to the file's column (exact name, alias, or Shapefile's 10-char cut).

    Returns the mapping and the names of required columns that are missing.
    """
    mapping: dict[str, str] = {}
    missing: list[str] = []
    available = set(present)
    for col in spec.columns:
        for candidate in (col.name, *col.aliases, col.name[:10]):
            if candidate in available:
                mapping[col.name] = candidate
                break
        else:
            if col.required:
                missing.append(col.name)
    return mapping, missing
