"""The database: table models, engines and sessions, the embedded PostGIS, migrations.

Driver errors become domain errors here. Imports ``gis.geo`` and the kernel modules.
"""
