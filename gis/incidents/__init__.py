"""Incidents and the seven-step closed loop: catalogue, workflow, working calendar,
intake and routing, bulk ingest, statistics and hot spots, worklists, escalation,
Open311 mapping.

Imports ``gis.areas`` and below, never ``gis.coverage``.
"""
