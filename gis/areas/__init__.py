"""The district → subdistrict → community → grid hierarchy: codes, levels, queries, routing.

What coverage and incidents share about areas lives here. Imports ``gis.db``,
``gis.geo`` and the kernel modules.
"""
