"""`gridmap import`: read a file of any layer, validate every row, write all or nothing.

`gis.imports.importer` is the public entry; the modules with a leading
underscore are its parts, imported by nobody else (tests aside). Imports the
domains it writes (``gis.incidents`` for incidents) and below.
"""
