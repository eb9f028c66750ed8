"""Storage and spatial analysis: the only place with SQL. No HTTP, no terminal.

Packages, lowest first; each imports only the ones below it (``tests/test_architecture.py``):

* kernel modules ``errors``, ``settings``: imported by everything, import nothing of gis;
* ``geo``: datums, metric planes, GeoJSON helpers (no database);
* ``db``: models, engines and sessions, the embedded PostGIS, migrations;
* ``areas``: codes and the district → grid hierarchy;
* ``coverage`` and ``incidents``: the two analysis domains, independent of each other;
* ``imports``: reading, validating and writing files of any layer;
* ``demo``: the generated demo district.

``docs/architecture.md`` draws the whole tree.
"""
