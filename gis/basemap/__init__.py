"""The base map under every map: streets, place names, tile sources and their datum, search.

``streets`` the street network (table ``street``) read per view and zoom;
``places`` names of subdistricts, communities and grids at label points;
``sources`` which base map a deployment draws (offline streets or a tile
service) and the datum its tiles are in; ``search`` finding an address,
building, grid, area, street or case by what a person types.

Sits above ``gis.incidents`` (search narrows cases with
``gis.incidents.visibility``): imports ``gis.incidents``, ``gis.areas`` and
below, never ``gis.coverage`` or ``gis.accounts``.
"""
