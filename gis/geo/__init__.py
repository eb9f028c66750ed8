"""Coordinates and geometry that need no database: Chinese datums, metric planes, GeoJSON.

Owns the storage datum (WGS84) and every conversion into it. Imports only the
kernel modules (``gis.errors``, ``gis.settings``).
"""
