"""Service coverage: which households lie within each facility type's service radius.

Numeric core, reading from PostGIS, the live cache kept current by
notifications, reports, what-if, circles and blind spots, facilities and
their type catalogue, per-community norms. Imports ``gis.areas`` and below,
never ``gis.incidents``.
"""
