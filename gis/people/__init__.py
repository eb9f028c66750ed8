"""People served: the registry of elderly and disabled residents a district looks after.

Owns the ``person`` table (migration 0013; issue 14, seed 003's "一点通"):
``categories.py`` who a person served is (codes and their names in both
languages); ``registry.py`` registering (home building → grid, consent
required), changing (against a version), reading, removing on request, and the
counts per area and category that carry no personal data; ``visibility.py``
who sees a person at all, as rules and as SQL. Imports ``gis.db`` and the
kernel, and none of ``gis.accounts``, ``gis.coverage`` or ``gis.incidents``: the
edges audit the reads and writes (``api/audited.py``).
"""
