"""The grid model in PostGIS: administrative areas, grids, buildings, staff,
facilities and incidents.

Storage datum is WGS84 (EPSG:4326) for every geometry column; CGCS2000
(EPSG:4490) input is accepted as identical at map scale, GCJ-02/BD-09 input is
converted on the way in (see ``gis.geo.datum``). Distances are never computed in
these degrees: analysis uses the geography type or EPSG:4549 (CGCS2000
Gauss-Krüger zone 40, central meridian 120°E, which covers Weifang).

What must never be wrong is enforced by the database itself (see the initial
migration): valid geometries, declared SRIDs, unique codes per validity period,
code layout and parent prefixes, grid household totals kept equal to the sum of
their buildings.
"""

from __future__ import annotations

from gis.db.models.accounts import (
    ACCOUNT_ROLES,
    Account,
    ApiKey,
    AuditEntry,
    AuthSession,
    LoginFailure,
)
from gis.db.models.areas import (
    AdminArea,
    AreaLevel,
    Building,
    Facility,
    FacilityType,
    Grid,
    Staff,
    StaffGrid,
    StaffRole,
)
from gis.db.models.base import (
    METRIC_SRID,
    OPEN_END,
    SRID,
    Base,
)
from gis.db.models.care import (
    DEVICE_ID_PATTERN,
    PERSON_CATEGORIES,
    CareWorker,
    Device,
    EmergencyCall,
    GeofenceAlarm,
    Person,
    PositionReport,
)
from gis.db.models.incidents import (
    INCIDENT_STATES,
    OPEN_INCIDENT_STATES,
    PHOTO_STAGES,
    Incident,
    IncidentPhoto,
    IncidentTransition,
    MediationUnit,
    MediationUnitStaff,
)
from gis.db.models.network import (
    WALK_BARRIER_KINDS,
    WALK_EDGE_KINDS,
    Street,
    WalkBarrier,
    WalkEdge,
)
from gis.db.models.participation import (
    PARTICIPATION_ENDS,
    PARTICIPATION_KINDS,
    PARTICIPATION_STEPS,
    Council,
    ParticipationItem,
)

__all__ = [
    "ACCOUNT_ROLES",
    "DEVICE_ID_PATTERN",
    "INCIDENT_STATES",
    "METRIC_SRID",
    "OPEN_END",
    "OPEN_INCIDENT_STATES",
    "PARTICIPATION_ENDS",
    "PARTICIPATION_KINDS",
    "PARTICIPATION_STEPS",
    "PERSON_CATEGORIES",
    "PHOTO_STAGES",
    "SRID",
    "WALK_BARRIER_KINDS",
    "WALK_EDGE_KINDS",
    "Account",
    "AdminArea",
    "ApiKey",
    "AreaLevel",
    "AuditEntry",
    "AuthSession",
    "Base",
    "Building",
    "CareWorker",
    "Council",
    "Device",
    "EmergencyCall",
    "Facility",
    "FacilityType",
    "GeofenceAlarm",
    "Grid",
    "Incident",
    "IncidentPhoto",
    "IncidentTransition",
    "LoginFailure",
    "MediationUnit",
    "MediationUnitStaff",
    "ParticipationItem",
    "Person",
    "PositionReport",
    "Staff",
    "StaffGrid",
    "StaffRole",
    "Street",
    "WalkBarrier",
    "WalkEdge",
]
