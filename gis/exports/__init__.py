"""Whole collections as files: GeoJSON, GeoPackage, zipped Shapefile and CSV, written
batch by batch so that memory stays bounded however many features leave.

Owns the file formats (``writers``) and the Shapefile's 10-character field names
(``dbf_names``). Reads nothing itself: the features come as batches from the
query core (``gis.features.query.batches``), already narrowed and masked for the
caller; this package only converts coordinates to the datum asked for
(``gis.geo.datum``) and writes. Imports ``gis.geo``, ``gis.lang``, ``gis.errors``,
``gis.progress`` and ``gis.features``; no HTTP, no terminal.
"""
