"""The demo district (潍坊市奎文区, 370705): its specification, generators per layer, load.

The top of ``gis``: may import every other package. Public: ``spec``, ``inputs``,
``generate``, ``load``; modules starting with ``_`` are this package's own.
"""
