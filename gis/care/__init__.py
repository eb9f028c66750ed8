"""Care for the people served: where they are, when they leave their safe area, who comes
when they press the button (issue 14, seed 003's "一点通").

Owns the tables of migration 0014: ``workers.py`` home-care workers (``care_worker``)
and whether they are free; ``devices.py`` which device a person or worker carries,
and what it said (last position, track, alarms), seen only by those who see the
person; ``fences.py`` geofences with hysteresis (pure); ``ingest.py`` position
reports in batches (history, last positions, fence states, arrivals);
``alarms.py`` an exit becomes an alarm and a help-request case in the person's
grid for their responsible worker; ``dispatch.py`` the nearest available worker
(walk where the network exists, else straight line); ``emergency.py`` the button:
case, dispatch, arrival, close; ``retention.py`` history deleted after
``GRIDMAP_POSITION_RETENTION_DAYS``.

Sits above ``gis.people`` (whose visibility it applies), ``gis.incidents`` (whose
intake files its cases) and ``gis.network`` (walking distances).
"""
