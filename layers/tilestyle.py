"""The vector tiles' style: a Mapbox GL / MapLibre style (version 8) in gridmap's colours.

Built from the same definitions the other maps draw with (``layers.catalogue``:
grids, buildings with the household ramp, facilities coloured by type;
``layers.incidents``: a case's colour by its step in the loop), over the
dataset tiles' layers (``gis.tiles.layers``). The browser maps draw with it,
and QGIS loads it (Layer → Add Vector Tile Layer, style URL). A masked case
is drawn hollow: where it lies is its grid's, not the person's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gis.tiles.layers import BUILDINGS, FACILITIES, FOOTPRINT_ZOOM, GRIDS, INCIDENTS
from layers.catalogue import BUILDINGS as BUILDING_LAYER
from layers.catalogue import FACILITIES as FACILITY_LAYER
from layers.catalogue import GRIDS as GRID_LAYER
from layers.catalogue import HOUSEHOLD_RAMP, category_colours
from layers.incidents import STATE_COLOURS

SOURCE = "gridmap"
STYLE_IDS = ("default",)
"""The styles served at /ogc/styles/{styleId}."""


def _ramp(prop: str) -> list[Any]:
    steps = HOUSEHOLD_RAMP.steps
    expression: list[Any] = ["step", ["coalesce", ["get", prop], 0], steps[0].colour]
    for step in steps[1:]:
        expression += [step.minimum, step.colour]
    return expression


def _match(prop: str, colours: dict[str, str], default: str) -> list[Any] | str:
    if not colours:
        return default
    expression: list[Any] = ["match", ["get", prop]]
    for value, colour in colours.items():
        expression += [value, colour]
    return [*expression, default]


def style(
    tilejson_url: str, facility_types: Iterable[str], name: str = "gridmap"
) -> dict[str, Any]:
    """The style over the dataset tiles at ``tilejson_url`` (their TileJSON document).

    ``facility_types``: the whole catalogue, so a type keeps its colour (as on the
    district map, ``category_colours``).
    """
    grid = GRID_LAYER.style
    building = BUILDING_LAYER.style
    facility = FACILITY_LAYER.style
    types = category_colours(facility_types)
    states = {state.value: colour for state, colour in STATE_COLOURS.items()}
    layers: list[dict[str, Any]] = [
        {
            "id": "grids-line",
            "type": "line",
            "source": SOURCE,
            "source-layer": GRIDS.id,
            "minzoom": GRIDS.minzoom,
            "paint": {
                "line-color": grid.color,
                "line-width": grid.weight,
                "line-opacity": grid.opacity,
            },
        },
        {
            "id": "buildings-footprint",
            "type": "fill",
            "source": SOURCE,
            "source-layer": BUILDINGS.id,
            "minzoom": FOOTPRINT_ZOOM,
            "filter": ["==", ["geometry-type"], "Polygon"],
            "paint": {
                "fill-color": _ramp("households"),
                "fill-opacity": building.fill_opacity,
                "fill-outline-color": building.color,
            },
        },
        {
            "id": "buildings-point",
            "type": "circle",
            "source": SOURCE,
            "source-layer": BUILDINGS.id,
            "minzoom": BUILDINGS.minzoom,
            "filter": ["==", ["geometry-type"], "Point"],
            "paint": {
                "circle-radius": building.radius / 2,
                "circle-color": _ramp("households"),
                "circle-opacity": building.fill_opacity,
            },
        },
        {
            "id": "facilities",
            "type": "circle",
            "source": SOURCE,
            "source-layer": FACILITIES.id,
            "minzoom": FACILITIES.minzoom,
            "paint": {
                "circle-radius": facility.radius,
                "circle-color": _match("type", types, "#666666"),
                "circle-opacity": facility.fill_opacity,
                "circle-stroke-color": facility.color,
                "circle-stroke-width": facility.weight,
            },
        },
        {
            "id": "incidents",
            "type": "circle",
            "source": SOURCE,
            "source-layer": INCIDENTS.id,
            "minzoom": INCIDENTS.minzoom,
            "paint": {
                "circle-radius": 5,
                "circle-color": _match("status", states, "#999999"),
                "circle-opacity": ["case", ["to-boolean", ["get", "masked"]], 0.0, 0.9],
                "circle-stroke-color": _match("status", states, "#999999"),
                "circle-stroke-width": ["case", ["to-boolean", ["get", "masked"]], 2, 1],
            },
        },
    ]
    return {
        "version": 8,
        "name": name,
        "sources": {SOURCE: {"type": "vector", "url": tilejson_url}},
        "layers": layers,
    }
