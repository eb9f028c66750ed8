"""Home-care workers (居家养老服务人员, seed 003): who they are, whether they are free.

A worker belongs to a community's home-care service centre. Where they are is their
device's last position (``gis.care.ingest``); ``available`` says whether they can be
sent to an emergency call now (a dispatch takes them, closing the call frees them).
A worker's name, phone and position are personal data: admin and the accounts of
their community see and keep them (the community runs the service), nobody else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import ForbiddenError, InvalidParameterError, NotFoundError
from gis.principal import Principal, Role

NAME_MAX = 100
PHONE_MAX = 20


@dataclass(frozen=True)
class Worker:
    id: int
    name: str
    phone: str | None
    community_code: str
    community_name: str
    available: bool
    device_id: str | None
    last_at: Any
    lon: float | None
    lat: float | None
    version: int


def sees(principal: Principal, community_code: str) -> bool:
    """Admin, and the accounts of the worker's community (its area covers the code)."""
    if principal.kind != "person":
        return False
    if principal.role is Role.ADMIN:
        return True
    return principal.role is Role.COMMUNITY and principal.covers(community_code)


def not_found(worker_id: int) -> NotFoundError:
    return NotFoundError(
        f"no home-care worker has id {worker_id}", zh=f"没有编号为 {worker_id} 的养老服务人员"
    )


_SELECT = """SELECT w.id, w.name, w.phone, a.code AS community_code, a.name AS community_name,
                    w.available, d.id AS device_id, d.last_at, ST_X(d.last_geom) AS lon,
                    ST_Y(d.last_geom) AS lat, w.version
             FROM care_worker w
             JOIN admin_area a ON a.id = w.community_id
             LEFT JOIN device d ON d.worker_id = w.id"""


def _worker(row: Any) -> Worker:
    return Worker(**row._asdict())


def get_worker(session: Session, principal: Principal, worker_id: int) -> Worker:
    row = session.execute(text(_SELECT + " WHERE w.id = :i"), {"i": worker_id}).first()
    if row is None or not sees(principal, row.community_code):
        raise not_found(worker_id)
    return _worker(row)


def list_workers(session: Session, principal: Principal) -> list[Worker]:
    """The workers ``principal`` sees, by id."""
    rows = session.execute(text(_SELECT + " ORDER BY w.id"))
    return [_worker(r) for r in rows if sees(principal, r.community_code)]


def _checked_text(value: str | None, field: str, most: int, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidParameterError(f"{field} is required", zh=f"{field} 为必填项")
        return None
    value = value.strip()
    if len(value) > most:
        raise InvalidParameterError(
            f"{field} is longer than {most} characters", zh=f"{field} 超过 {most} 个字符"
        )
    return value


def add_worker(
    session: Session,
    principal: Principal,
    name: str,
    community_code: str,
    phone: str | None = None,
) -> Worker:
    """A new worker of the community ``community_code`` (admin, or that community)."""
    area = session.execute(
        text(
            "SELECT id FROM admin_area WHERE code = :c AND level = 'community' AND valid_to IS NULL"
        ),
        {"c": community_code},
    ).first()
    if area is None:
        raise NotFoundError(
            f"no current community has the code {community_code}",
            zh=f"没有代码为 {community_code} 的社区",
        )
    if not sees(principal, community_code):
        raise ForbiddenError(
            "only admin and the community's own accounts add its home-care workers",
            zh="只有管理员和本社区账号可以添加本社区的养老服务人员",
        )
    worker_id = session.execute(
        text(
            "INSERT INTO care_worker (name, phone, community_id) VALUES (:n, :p, :c) RETURNING id"
        ),
        {
            "n": _checked_text(name, "name", NAME_MAX, True),
            "p": _checked_text(phone, "phone", PHONE_MAX, False),
            "c": int(area.id),
        },
    ).scalar_one()
    return get_worker(session, principal, int(worker_id))


def set_available(
    session: Session, principal: Principal, worker_id: int, available: bool
) -> Worker:
    """Marks a worker free or busy (those who see them); setting the same twice is harmless."""
    get_worker(session, principal, worker_id)
    session.execute(
        text(
            "UPDATE care_worker SET available = :a WHERE id = :i AND available IS DISTINCT FROM :a"
        ),
        {"a": available, "i": worker_id},
    )
    return get_worker(session, principal, worker_id)
