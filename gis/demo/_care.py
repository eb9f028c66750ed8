"""The demo's people served, home-care workers and their last day of device positions
(issue 14, seed 003's "一点通"): clearly fictional, the same for the same seed.

- ``PEOPLE`` people served at random homes (elderly living alone, elderly, disabled,
  other, in ``CATEGORY_SHARES``), each looked after by their grid's primary manager,
  with a consent record marked as demo data, and a device (``YDT-00001``...);
- one home-care worker per community (``护理员N号``, fictional), with a device at a
  home of their community;
- the last 24 hours of positions, every ``EVERY_MIN`` minutes, sent through the real
  ingest (``gis.care.ingest``): everyone stays within about 120 m of home.

Positions are relative to the load's time (the history is kept 30 days and the server
deletes what is older, so a day before ``DEMO_AS_OF`` would be gone within the hour);
everything else is drawn from the random stream ``(seed, 14)``. So nobody leaves their
safe area and nobody presses the button in the demo's own data: an alarm or a call
files a case *today*, outside the demo year every incident page and statistic is
drawn for (``DEMO_AS_OF``). Try them on the running demo instead (``docs/care.md``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from gis.care.fences import FenceRules
from gis.care.ingest import PositionBatch, ingest
from gis.db.arrays import int_array, text_array
from gis.localtime import utc_now
from gis.principal import Principal

PEOPLE = 300
CATEGORY_SHARES = {"elderly_alone": 0.45, "elderly": 0.3, "disabled": 0.2, "other": 0.05}
EVERY_MIN = 15
SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"
TITLES = {"elderly_alone": "奶奶", "elderly": "大爷", "disabled": "叔叔", "other": "阿姨"}
CONSENT_SCOPE = "定位、围栏告警、紧急救助（演示数据，虚构）"
DEVICES = Principal.system("demo:一点通平台", scopes=("devices:write",))
M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class CareCounts:
    people: int
    workers: int
    positions: int


def write_care(conn: Connection, seed: int, now: dt.datetime | None = None) -> CareCounts:
    """Writes the demo's care data into the demo district stored in ``conn``."""
    now = (now or utc_now()).replace(second=0, microsecond=0)
    rng = np.random.default_rng([seed, 14])
    homes = conn.execute(
        text(
            """SELECT b.id, b.grid_id, ST_X(b.location), ST_Y(b.location),
                      (SELECT sg.staff_id FROM staff_grid sg
                        WHERE sg.grid_id = b.grid_id AND sg.is_primary
                        ORDER BY sg.staff_id LIMIT 1)
               FROM building b ORDER BY b.id"""
        )
    ).all()
    n = min(PEOPLE, len(homes))  # a small test district has fewer homes
    chosen = [homes[int(i)] for i in rng.choice(len(homes), size=n, replace=False)]
    codes = list(CATEGORY_SHARES)
    categories = rng.choice(len(codes), size=n, p=list(CATEGORY_SHARES.values()))
    surnames = rng.integers(len(SURNAMES), size=n)
    consent_days = rng.integers(10, 400, size=n)
    cats = [codes[int(c)] for c in categories]
    ids = (
        conn.execute(
            text(
                """INSERT INTO person (category, name, phone, building_id, grid_id, household,
                                   responsible_staff_id, consent_given_by, consent_at,
                                   consent_scope, safe_radius_m)
               SELECT u.c, u.n, u.ph, u.b, u.g, u.h, u.s, u.by,
                      :now - make_interval(days => u.d), :scope, 300
               FROM unnest(CAST(:c AS text[]), CAST(:n AS text[]), CAST(:ph AS text[]),
                           CAST(:b AS bigint[]), CAST(:g AS int[]), CAST(:h AS text[]),
                           CAST(:s AS int[]), CAST(:by AS text[]), CAST(:d AS int[]))
                    AS u(c, n, ph, b, g, h, s, by, d)
               RETURNING id"""
            ),
            {
                "c": cats,
                "n": [
                    f"{SURNAMES[int(s)]}{TITLES[c]}" for s, c in zip(surnames, cats, strict=True)
                ],
                "ph": [f"1380000{k + 1:04d}" for k in range(n)],
                "b": [int(h[0]) for h in chosen],
                "g": [int(h[1]) for h in chosen],
                "h": [f"{1 + k % 4}单元{1 + k % 6}0{1 + k % 3}" for k in range(n)],
                "s": [None if h[4] is None else int(h[4]) for h in chosen],
                "by": ["本人" if k % 5 else "女儿（监护人）" for k in range(n)],
                "d": [int(d) for d in consent_days],
                "now": now,
                "scope": CONSENT_SCOPE,
            },
        )
        .scalars()
        .all()
    )
    devices = [f"YDT-{k + 1:05d}" for k in range(n)]
    conn.execute(
        text(
            "INSERT INTO device (id, person_id) "
            "SELECT * FROM unnest(CAST(:d AS text[]), CAST(:p AS bigint[]))"
        ),
        {"d": text_array(devices), "p": int_array(ids)},
    )
    workers = _write_workers(conn, rng, now)
    home_xy = np.array([(float(h[2]), float(h[3])) for h in chosen])
    with Session(bind=conn) as session:
        positions = _a_day(session, rng, devices, home_xy, now)
        session.flush()
    return CareCounts(n, workers, positions)


def _write_workers(conn: Connection, rng: np.random.Generator, now: dt.datetime) -> int:
    """One worker per community, at a random home of their community."""
    communities = conn.execute(
        text(
            """SELECT a.id, (array_agg(b.id ORDER BY b.id))[1 + floor(:r * count(*))::int]
               FROM admin_area a JOIN grid g ON g.community_id = a.id AND g.valid_to IS NULL
               JOIN building b ON b.grid_id = g.id
               WHERE a.level = 'community' AND a.valid_to IS NULL
               GROUP BY a.id ORDER BY a.id"""
        ),
        {"r": float(rng.uniform(0, 0.999))},
    ).all()
    for k, (community, building) in enumerate(communities):
        worker = conn.execute(
            text(
                "INSERT INTO care_worker (name, phone, community_id) "
                "VALUES (:n, :p, :c) RETURNING id"
            ),
            {"n": f"护理员{k + 1}号", "p": f"1390000{k + 1:04d}", "c": community},
        ).scalar_one()
        conn.execute(
            text(
                """INSERT INTO device (id, worker_id, last_at, last_geom)
                   SELECT :d, :w, :at, location FROM building WHERE id = :b"""
            ),
            {"d": f"HG-{k + 1:04d}", "w": worker, "at": now, "b": building},
        )
    return len(communities)


def _a_day(
    session: Session,
    rng: np.random.Generator,
    devices: list[str],
    homes: np.ndarray,
    now: dt.datetime,
) -> int:
    """The last 24 hours of positions, one batch per moment; the reports stored."""
    steps = 24 * 60 // EVERY_MIN
    cos = np.cos(np.radians(homes[:, 1]))
    stored = 0
    for t in range(steps):
        at = now - dt.timedelta(minutes=EVERY_MIN * (steps - t))
        offset = rng.uniform(-120, 120, size=(len(devices), 2))
        batch = PositionBatch(
            devices,
            [at] * len(devices),
            homes[:, 0] + offset[:, 0] / (M_PER_DEG * cos),
            homes[:, 1] + offset[:, 1] / M_PER_DEG,
            rng.uniform(5, 30, size=len(devices)),
        )
        result = ingest(
            session, DEVICES, batch, FenceRules(), retention=dt.timedelta(days=30), now=now
        )
        stored += result.stored
    return stored
