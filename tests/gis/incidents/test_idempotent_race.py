"""Two repeats of one report racing each other (a phone resending while the first is still
being stored): the unique index makes the second wait, then answer the first's case."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.incidents.intake import Intake, Report, report_digest, report_once
from gis.incidents.records import IncidentRecord
from gis.principal import Principal, Role
from tests.coverage_district import committed_lattice

ME = Principal("person", "张伟", role=Role.DISTRICT, ref="account:7")
REPORT = Report(category="exposed_garbage", lon=119.11, lat=36.72)
DIGEST = report_digest({"category": "exposed_garbage", "lon": 119.11, "lat": 36.72})


def _waiting(engine: Engine) -> bool:
    with engine.connect() as probe:
        return bool(
            probe.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
        )


def test_the_second_of_two_racing_repeats_answers_the_first_case(server_url: str) -> None:
    with committed_lattice(server_url, "gridmap_idempotent_race") as district:
        engine = district.engine
        second: list[Intake | IncidentRecord] = []
        with Session(engine) as first:
            made = report_once(first, REPORT, ME, "race-1", DIGEST)
            assert isinstance(made, Intake)

            def repeat() -> None:
                with Session(engine) as other, other.begin():
                    second.append(report_once(other, REPORT, ME, "race-1", DIGEST))

            thread = threading.Thread(target=repeat)
            thread.start()
            deadline = time.monotonic() + 10
            while not _waiting(engine) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _waiting(engine), "the repeat never waited for the first's row"
            first.commit()
            thread.join(10)
        [answer] = second
        assert isinstance(answer, IncidentRecord) and answer.id == made.record.id
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
        assert count == 1
