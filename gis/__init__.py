"""gis: storage and spatial analysis; the only package with SQL."""
