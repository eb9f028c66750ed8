"""What the demo district must look like: the numbers every generator of ``gis.demo`` obeys.

One place for them so that a reader (or a test) checks the demo against the
seeds and the standard without reading the generators; docs/demo.md says where
each number comes from.
"""

from __future__ import annotations

import datetime as dt

from gis.localtime import CITY_TZ

DEFAULT_SEED = 370705
DISTRICT_CODE = "370705"
METRIC_CRS = "EPSG:4549"
OUTPUT_CRS = "EPSG:4326"

TARGET_HOUSEHOLDS = 100_000
GRID_HOUSEHOLDS = 250
GRID_MIN_HOUSEHOLDS = 200
GRID_MAX_HOUSEHOLDS = 300
HOUSEHOLDS_PER_MANAGER = 200
HOUSEHOLDS_PER_WORKER = 300
#: One kindergarten per ~3,000 households (the 5-minute circle serves 5,000-12,000 people).
HOUSEHOLDS_PER_KINDERGARTEN = 3000
#: One primary school per ~6,000 households (the 10-minute circle serves 15,000-25,000 people).
HOUSEHOLDS_PER_SCHOOL = 6000
#: Seed 000 (Futian): 13 community U-stations, 11 government-service agent points.
VOLUNTEER_STATIONS = 13
GOV_SERVICE_POINTS = 11

#: Buildings stay this far (metres) inside their grid, so no footprint is cut.
FOOTPRINT_MARGIN_M = 4.0
#: Longest boundary segment (metres) before tiling: a straight line in EPSG:4549
#: bends by < 0.1 mm over 50 m when reprojected to lon/lat.
SEGMENT_MAX_M = 50.0
#: Vertices closer than this (metres) are snapped together when tiling.
SNAP_M = 0.001
#: Spacing (metres) of the sample points that carry the household density.
SAMPLE_SPACING_M = 60.0

#: The old town of Weifang, east of the Bailang river (东关): the density peak.
OLD_TOWN_LONLAT = (119.125, 36.712)

INCIDENT_START = dt.date(2025, 11, 1)
INCIDENT_END = dt.date(2026, 10, 31)
#: The moment the demo's data stands at: the end of its year (no step happens after it).
DEMO_AS_OF = dt.datetime.combine(INCIDENT_END + dt.timedelta(days=1), dt.time(0), CITY_TZ)
