"""Residents who decide: resident councils, micro-projects and 由民做主 items (issue 14).

Owns the ``council`` and ``participation_item`` tables (migration 0016; seeds 000
and 004): ``kinds.py`` the kinds of item and the steps of their status (names in
both languages) and how a status may move (pure); ``items.py`` councils and items
written and read (a community's accounts write for their community, admin
everywhere; everyone reads), an item moved one step at a time against its
version; ``stats.py`` counts per kind and status, budgets and spending per
community, rolled up to subdistricts and the district per 1,000 households
(``gis.areas.hierarchy``); ``importer.py`` ``gridmap participation import``,
CSV or GeoPackage, all or nothing with row-numbered rejections. Imports
``gis.areas``, ``gis.geo``, ``gis.db`` and the kernel, none of
``gis.accounts``, ``gis.coverage``, ``gis.incidents`` or ``gis.people``. No
personal data: nobody's name is stored.
"""
