"""Vector tiles: Mapbox Vector Tiles of the grid model built in PostGIS, and their cache.

Owns the tile grid (``grid.py``: WebMercatorQuad from morecantile, tile
addresses checked against it), the tile layers and their SQL (``layers.py``:
grids, buildings, facilities, incidents narrowed and masked for the caller,
coverage per building and per grid; each with its zooms and fields), drawing
a tile (``render.py``: ``ST_AsMVT`` in one statement; GCJ-02/BD-09 tiles by
converting each vertex in Python and encoding the converted geometries in
PostGIS again) and the in-process cache kept current by the database's
change notifications (``cache.py``). Imports ``db``, ``geo``, ``areas``,
``coverage`` and ``incidents``; nothing in gis imports it.
"""
