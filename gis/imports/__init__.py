"""`gridmap import`: read a file of any layer, validate every row, write all or nothing.

Imports the domains it writes (``gis.incidents`` for incidents) and below.
"""
