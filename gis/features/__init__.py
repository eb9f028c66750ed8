"""OGC API - Features over the grid model: which collections there are, what their
items hold, and how a request's filters become SQL.

``collections`` names every collection (areas per level, grids, buildings, facilities
and one per facility type, incidents as the caller may see them, coverage per facility
type) with its properties and the select it reads from; ``filters`` turns CQL2 (text or
JSON, parsed by pygeofilter) into SQLAlchemy expressions with bound parameters;
``crs`` the coordinate reference systems items are answered in (CRS84, EPSG:4326,
EPSG:4490, GCJ-02, BD-09); ``query`` counts, pages (GeoJSON built in PostgreSQL,
keyset paging by id) and streams batches for exports.

The top of gis: imports ``gis.areas``, ``gis.coverage``, ``gis.incidents`` and below;
no HTTP (the routes are ``api/routes/ogc.py``).
"""
