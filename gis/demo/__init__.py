"""The demo district (潍坊市奎文区, 370705): its specification, generators per layer, load.

The top of ``gis``: may import every other package.
"""
