"""Walking networks: the graph, points joined to it, walking distances and service areas.

Pure numpy/scipy/shapely (no database, no HTTP) in the numeric core: ``graph.py``
the network as arrays, ``attach.py`` buildings and facilities joined to their
nearest edge point, ``reach.py`` bounded multi-source walks, ``areas.py``
service-area polygons. Coordinates are plane metres of ``gis.geo.metric``;
lengths and distances are true metres.

Walking distance from a building to a facility = the straight access leg from
the building to its attachment point on the nearest walkable edge whose leg
crosses no barrier + metres along the network + the facility's leg likewise.
Walks go from the building (home) to the facility; one-way edges are honoured
in that direction. Imports ``gis.geo`` and below; ``gis.coverage`` builds on it.
"""

from gis.network.areas import service_areas
from gis.network.attach import Attachment, attach
from gis.network.graph import Network
from gis.network.reach import Nearest, distances_from, nearest_sources, reached

__all__ = [
    "Attachment",
    "Nearest",
    "Network",
    "attach",
    "distances_from",
    "nearest_sources",
    "reached",
    "service_areas",
]
