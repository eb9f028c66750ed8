"""An incident as stored, and its history of transitions; and both as a caller may see them.

``get_incident`` and ``history`` read what is stored (the workflow works on
it); ``incident_for`` and ``history_for`` answer a caller, through
``gis.incidents.visibility``: a case out of their reach is a NotFoundError
worded as for a missing id, and a personal case they are not responsible
for comes masked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import Level
from gis.errors import NotFoundError
from gis.incidents import visibility
from gis.incidents.workflow import Action, Rating, State
from gis.localtime import CITY_TZ
from gis.principal import Principal, Role


@dataclass(frozen=True)
class IncidentRecord:
    """An incident as stored; times are timezone-aware, ``snapped_m`` in metres.

    ``lon``/``lat`` are None only in a masked view of a case outside every grid.
    """

    id: int
    category: str
    status: State
    lon: float | None
    lat: float | None
    grid_id: int | None
    grid_code: str | None
    community_id: int | None
    subdistrict_id: int | None
    handler_staff_id: int | None
    handling_level: Level
    reported_at: dt.datetime
    deadline_at: dt.datetime | None
    clock_started_at: dt.datetime | None
    closed_at: dt.datetime | None
    rework_count: int
    version: int
    duplicate_of: int | None
    location_datum: str | None
    address: str | None
    description: str | None
    source: str | None
    snapped_m: float | None
    media_url: str | None
    supervise_due_at: dt.datetime | None = None
    """When the escalation sweep next raises the case (督办时限; gis.incidents.deadlines)."""
    unit_id: int | None = None
    """The mediation unit the case was handed to (交办; gis.incidents.units)."""
    on_the_spot: bool = False
    """Settled on the spot at registration (当场办结), unless sent back since."""

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal


_SELECT = """
SELECT i.id, i.category, i.status, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
       i.grid_id, g.code AS grid_code, i.community_id, i.subdistrict_id,
       i.handler_staff_id, i.handling_level, i.reported_at, i.deadline_at,
       i.clock_started_at, i.closed_at, i.rework_count, i.version, i.duplicate_of,
       i.location_datum, i.address, i.description, i.source, i.snapped_m, i.media_url,
       i.supervise_due_at, i.unit_id, i.on_the_spot
FROM incident i LEFT JOIN grid g ON g.id = i.grid_id
"""
_GRID_POINT = """
SELECT ST_X(p) AS lon, ST_Y(p) AS lat
  FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid WHERE id = :g) s
"""


RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(IncidentRecord))


def record_from(values: dict[str, Any]) -> IncidentRecord:
    """The record in a row's values (extra values, such as a joined code, are ignored)."""
    fields = {name: values[name] for name in RECORD_FIELDS}
    fields.update(status=State(fields["status"]), handling_level=Level(fields["handling_level"]))
    return IncidentRecord(**fields)


def get_incident(session: Session, incident_id: int) -> IncidentRecord:
    """One incident; NotFoundError if there is none with this id."""
    row = session.execute(text(_SELECT + " WHERE i.id = :id"), {"id": incident_id}).first()
    if row is None:
        raise NotFoundError(
            f"no incident has id {incident_id}", zh=f"没有编号为 {incident_id} 的案件"
        )
    return record_from(row._asdict())


@dataclass(frozen=True)
class Seen:
    """A case as a caller sees it: ``masked`` when its personal data is hidden from them,
    ``personal`` when it is of a personal category (so, unmasked, a read to audit)."""

    record: IncidentRecord
    masked: bool
    personal: bool

    @property
    def personal_in_full(self) -> bool:
        return self.personal and not self.masked


def incident_for(session: Session, incident_id: int, viewer: Principal) -> Seen:
    """One incident as ``viewer`` may see it; NotFoundError if it is missing or out of reach.

    Masked: the point is the grid's representative point (None without a grid),
    description and address ``已隐藏``, photo link, building and snap distance
    dropped.
    """
    record = get_incident(session, incident_id)
    visibility.check_reach(viewer, incident_id, record.grid_code, record.category)
    personal = visibility.is_personal(record.category)
    if visibility.in_full(viewer, record.grid_code, record.category):
        return Seen(record, masked=False, personal=personal)
    lon = lat = None
    if record.grid_id is not None:
        point = session.execute(text(_GRID_POINT), {"g": record.grid_id}).one()
        lon, lat = float(point.lon), float(point.lat)
    masked = dataclasses.replace(
        record,
        lon=lon,
        lat=lat,
        description=_hidden(record.description),
        address=_hidden(record.address),
        media_url=None,
        location_datum=None,
        snapped_m=None,
    )
    return Seen(masked, masked=True, personal=personal)


def _hidden(value: str | None) -> str | None:
    return None if value is None else visibility.HIDDEN


@dataclass(frozen=True)
class HistoryEntry:
    """One stored step of a case, oldest first; levels are None for the intake row.

    With the labels pages show (Chinese, no raw codes or ISO times): ``action_zh``,
    ``actor_label`` (系统自动 for the program, a person's name and role, a key's
    name, 导入 for an import), ``at_local`` (``YYYY-MM-DD HH:MM`` in Asia/Shanghai),
    ``level_zh`` (the level reached, where the step changed it), ``rating`` and
    ``rating_zh`` (an evaluation's), ``note_zh`` (the note, the program's own
    notes in Chinese); for a hand-over (交办) ``unit_id``, ``unit_name`` and
    ``unit_head`` (the head's name as at the step) and ``handed_to_zh``
    (``交办至 街道综治中心 张伟``).
    """

    action: str
    from_state: str | None
    to_state: str
    actor: str
    at: dt.datetime
    note: str | None
    from_level: str | None
    to_level: str | None
    rating: str | None = None
    action_zh: str = ""
    actor_label: str = ""
    at_local: str = ""
    level_zh: str | None = None
    rating_zh: str | None = None
    note_zh: str | None = None
    unit_id: int | None = None
    unit_name: str | None = None
    unit_head: str | None = None
    handed_to_zh: str | None = None


SOURCE_ZH = {
    "hotline": "12345热线",
    "patrol": "网格员巡查",
    "app": "随手拍",
    "video": "视频巡查",
    "visit": "社区接待窗口",
    "open311": "开放接口",
}
"""Report sources as pages name them (the demo's and the API's examples)."""


def source_zh(source: str | None) -> str | None:
    """A report's source as pages name it (an unknown one as stored)."""
    return None if source is None else SOURCE_ZH.get(source, source)


EXTRA_ACTIONS_ZH = {"reported": "上报", "merge": "合并重复"}
"""Stored actions that are no workflow ``Action``: the intake row and a merge."""
SYSTEM_LABEL = "系统自动"
_LEVEL_ZH = {level.value: level.name_zh for level in Level}


def action_zh(action: str) -> str:
    """A stored action in Chinese (an unknown one as stored)."""
    try:
        return Action(action).name_zh
    except ValueError:
        return EXTRA_ACTIONS_ZH.get(action, action)


def local_minute(moment: dt.datetime) -> str:
    """``2026-12-05 14:03``: a moment as pages show it, in the city's time."""
    return moment.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")


def _actor_label(actor: str, ref: str | None, person: str | None, role: str | None) -> str:
    if actor == "system" or ref == "system":
        return SYSTEM_LABEL
    if person is not None and role is not None:
        return f"{person}（{Role(role).name_zh}）"
    if actor.startswith("import:"):
        return f"导入（{actor.removeprefix('import:')}）"
    if actor.startswith("key:"):
        return actor.removeprefix("key:")
    return actor


_SNAPPED = re.compile(r"^reported; outside every grid, snapped ([0-9.]+) m to the nearest grid$")
_DEADLINE = re.compile(r"^deadline (\S+) passed ([0-9.]+) h ago$")
_DUPLICATE = re.compile(r"^duplicate of incident ([0-9]+)(?:: (.*))?$", re.S)


def note_zh(note: str | None) -> str | None:
    """A stored note as pages show it: the program's own English notes (intake, the
    escalation of earlier versions and imports, merges) in Chinese, others as written."""
    if note is None or note == "reported":
        return None if note is None else "上报"
    if m := _SNAPPED.match(note):
        return f"上报；位置不在任何网格内，已归入 {m[1]} 米外最近的网格"
    if m := _DEADLINE.match(note):
        try:
            due = local_minute(dt.datetime.fromisoformat(m[1]))
        except ValueError:
            return note
        return f"超过处置时限（{due}）{m[2]} 小时，系统自动上报升级"
    if m := _DUPLICATE.match(note):
        return f"与案件 {m[1]} 重复" + (f"：{m[2]}" if m[2] else "")
    return note


def handed_to_zh(action: str, unit: str | None, head: str | None) -> str | None:
    """``交办至 <unit> <head>``: where a hand-over sent the case (None for other steps)."""
    if action != Action.HAND_OVER.value:
        return None
    return " ".join(["交办至", unit or "（已撤销的单位）", *([head] if head else [])])


def history(session: Session, incident_id: int) -> list[HistoryEntry]:
    """Every transition of a case in the order they happened, with its labels."""
    get_incident(session, incident_id)
    rows = session.execute(
        text(
            "SELECT t.action, t.from_state, t.to_state, t.actor, t.at, t.note, t.from_level,"
            " t.to_level, t.rating, t.actor_ref, a.display_name AS person, a.role,"
            " t.unit_id, t.unit_head, u.name_zh AS unit_name"
            " FROM incident_transition t"
            " LEFT JOIN account a ON t.actor_ref = 'account:' || a.id"
            " LEFT JOIN mediation_unit u ON u.id = t.unit_id"
            " WHERE t.incident_id = :i ORDER BY t.at, t.id"
        ),
        {"i": incident_id},
    )
    out = []
    for r in rows:
        changed = r.to_level is not None and r.from_level is not None and r.to_level != r.from_level
        out.append(
            HistoryEntry(
                action=r.action,
                from_state=r.from_state,
                to_state=r.to_state,
                actor=r.actor,
                at=r.at,
                note=r.note,
                from_level=r.from_level,
                to_level=r.to_level,
                rating=r.rating,
                action_zh=action_zh(r.action),
                actor_label=_actor_label(r.actor, r.actor_ref, r.person, r.role),
                at_local=local_minute(r.at),
                level_zh=_LEVEL_ZH.get(r.to_level) if changed else None,
                rating_zh=Rating(r.rating).name_zh if r.rating else None,
                note_zh=note_zh(r.note),
                unit_id=r.unit_id,
                unit_name=r.unit_name,
                unit_head=r.unit_head,
                handed_to_zh=handed_to_zh(r.action, r.unit_name, r.unit_head),
            )
        )
    return out


def history_for(
    session: Session, incident_id: int, viewer: Principal
) -> tuple[Seen, list[HistoryEntry]]:
    """The case and its steps as ``viewer`` may see them: notes ``已隐藏`` where the case is
    masked; NotFoundError if it is missing or out of reach."""
    seen = incident_for(session, incident_id, viewer)
    steps = history(session, incident_id)
    if seen.masked:
        steps = [
            dataclasses.replace(s, note=_hidden(s.note), note_zh=_hidden(s.note_zh)) for s in steps
        ]
    return seen, steps
