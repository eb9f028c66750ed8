"""The load generator of ``load_bench.py``: 32 locust users against the running app.

Run by ``load_bench.py`` in a process of its own (locust monkey-patches the
standard library with gevent on import, which the benchmark's database setup
must not see): ``python benchmarks/load_clients.py PLAN.json``. It prints one
JSON line per timed step on stdout, and progress on stderr.

Locust gives the users (one greenlet and one keep-alive geventhttpclient
connection each), and its request statistics; the pacing is ours. Locust's own
``constant_throughput`` waits after each answer, so a slow server slows the
clients down and its queueing never shows in the latencies (coordinated
omission). Here each user has a fixed schedule instead, request *k* due at
``start + phase + k * clients / rate`` (phases spread the users evenly), and a
request's latency counts from when it was due: time spent waiting for its
user to be free is part of it. A rate is held when every request due in the
step's window got a 2xx answer and the p99 of those latencies is within the
limit.

Scenarios: ``floor`` (GET /healthz), ``reports`` (POST /api/v1/incidents)
and ``mix`` (reads, reports and closed-loop steps on the user's own cases).

Every request but /healthz carries a bearer login made by ``load_bench.py``:
district staff report, read and take the steps up to feedback; another account
(admin) verifies and evaluates, since whoever handled a case may not.
"""

from __future__ import annotations

import gevent.monkey

gevent.monkey.patch_all()

import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, task  # noqa: E402
from locust.env import Environment  # noqa: E402

from bench_server import cpu_seconds  # noqa: E402

WORKFLOW = ("accept", "dispatch", "handle", "feedback", "verify", "evaluate")
"""The closed loop a case of the mix goes through, one step per request."""
CHECKED = frozenset({"verify", "evaluate"})
"""Steps taken by the checker's login, not by the one that handled the case."""

MIX: tuple[tuple[str, float], ...] = (
    ("list", 0.15),  # GET /api/v1/incidents?grid=…&limit=50 (a grid manager's list)
    ("incident", 0.20),  # GET /api/v1/incidents/{id}
    ("grid", 0.15),  # GET /api/v1/grids/{code} (grid detail)
    ("report", 0.20),  # POST /api/v1/incidents
    ("step", 0.30),  # POST /api/v1/incidents/{id}/transitions, expected_version
)
"""Kinds of request of the mix and their shares: half reads, a fifth reports, the rest
workflow steps (each report is followed, over time, by up to six steps)."""

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Step:
    """One timed step: who sends what, at which rate, and what came back."""

    scenario: str
    rate: float
    start: float
    window_start: float
    window_end: float
    latencies: list[float] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    due: int = 0
    done: int = 0
    in_flight: int = 0


class Plan:
    """What the driver was given: the server, the request material, the limits."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.host: str = raw["host"]
        self.clients: int = raw["clients"]
        self.server_pids: list[int] = raw["server_pids"]
        self.postmaster_pid: int | None = raw["postmaster_pid"]
        self.reports: list[str] = raw["reports"]
        self.grid_codes: list[str] = raw["grid_codes"]
        self.incident_ids: list[int] = raw["incident_ids"]
        self.p99_ms: float = raw["p99_ms"]
        self.step_s: float = raw["step_s"]
        self.warm_s: float = raw["warm_s"]
        self.drain_s: float = raw["drain_s"]
        self.scenarios: list[str] = raw["scenarios"]
        self.cost_fraction: float = raw["cost_fraction"]
        self.cost_s: float = raw["cost_s"]
        self.bisections: int = raw["bisections"]
        self.headers: dict[str, str] = raw["headers"]
        """The login of district staff: reports, reads, steps up to feedback."""
        self.checker_headers: dict[str, str] = raw["checker_headers"]
        """The login that verifies and evaluates (not the one that handled)."""
        self.fixed: list[tuple[str, float, float]] = raw.get("fixed", [])
        """(scenario, rate, seconds) steps to run first (0/s: closed loop), e.g. to profile."""
        self.next_report = 0
        self.created = 0

    def report_body(self) -> str:
        body = self.reports[self.next_report % len(self.reports)]
        self.next_report += 1
        return body


PLAN: Plan
STEP: Step | None = None
USERS_STARTED = 0


class Client(FastHttpUser):
    """One of the clients: a keep-alive connection and a schedule of due times."""

    host = "http://127.0.0.1"
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        global USERS_STARTED
        self.index = USERS_STARTED
        USERS_STARTED += 1
        self.rng = random.Random(self.index)
        self.cases: deque[list[Any]] = deque()  # [id, version, next step index]

    def _send(self, kind: str) -> Callable[[], tuple[int, Any]]:
        """The request of this kind, as a call answering (status, decoded body or None)."""
        client, login = self.client, PLAN.headers
        if kind == "floor":
            return lambda: (client.get("/healthz", name="GET /healthz").status_code, None)
        if kind == "report":
            return self._report
        if kind == "step":
            if not self.cases:
                return self._report
            return self._step
        if kind == "list":
            code = PLAN.grid_codes[self.rng.randrange(len(PLAN.grid_codes))]
            url = f"/api/v1/incidents?grid={code}&limit=50"
            name = "GET /api/v1/incidents?grid"
            return lambda: (client.get(url, name=name, headers=login).status_code, None)
        if kind == "incident":
            i = PLAN.incident_ids[self.rng.randrange(len(PLAN.incident_ids))]
            url = f"/api/v1/incidents/{i}"
            name = "GET /api/v1/incidents/{id}"
            return lambda: (client.get(url, name=name, headers=login).status_code, None)
        if kind == "grid":
            code = PLAN.grid_codes[self.rng.randrange(len(PLAN.grid_codes))]
            url = f"/api/v1/grids/{code}"
            name = "GET /api/v1/grids/{code}"
            return lambda: (client.get(url, name=name, headers=login).status_code, None)
        raise ValueError(kind)

    def _report(self) -> tuple[int, Any]:
        r = self.client.post(
            "/api/v1/incidents",
            data=PLAN.report_body(),
            headers={**JSON_HEADERS, **PLAN.headers},
            name="POST /api/v1/incidents",
        )
        if r.status_code == 201:
            PLAN.created += 1
            answer = json.loads(r.content)
            self.cases.append([answer["id"], answer["version"], 0])
        return r.status_code, None

    def _step(self) -> tuple[int, Any]:
        case = self.cases[0]
        action = WORKFLOW[case[2]]
        body = {"action": action, "expected_version": case[1], "note": "bench"}
        login = PLAN.checker_headers if action in CHECKED else PLAN.headers
        r = self.client.post(
            f"/api/v1/incidents/{case[0]}/transitions",
            data=json.dumps(body),
            headers={**JSON_HEADERS, **login},
            name="POST /api/v1/incidents/{id}/transitions",
        )
        if r.status_code == 200:
            case[1] = json.loads(r.content)["version"]
            case[2] += 1
            if case[2] == len(WORKFLOW):
                self.cases.popleft()
        else:
            self.cases.popleft()  # do not retry a refused step forever
        return r.status_code, None

    def _kind(self) -> str:
        assert STEP is not None
        if STEP.scenario == "floor":
            return "floor"
        if STEP.scenario == "reports":
            return "report"
        x = self.rng.random()
        for kind, share in MIX:
            if x < share:
                return kind
            x -= share
        return MIX[-1][0]

    @task
    def send_on_schedule(self) -> None:
        """Send at this user's due times (or, closed loop, as soon as answered) until the
        step's window has passed."""
        step = STEP
        assert step is not None
        closed = step.rate <= 0
        interval = 0.0 if closed else PLAN.clients / step.rate
        due = step.start + (0.0 if closed else self.index / step.rate)
        while due < step.window_end:
            now = time.perf_counter()
            if closed:
                due = now
            elif due > now:
                gevent.sleep(due - now)
            kind = self._kind()
            timed = step.window_start <= due < step.window_end
            if timed:
                step.due += 1
                step.in_flight += 1
            try:
                status, _ = self._send(kind)()
            except Exception as exc:  # a reset or timeout is an error of this step, not a crash
                status = 0
                key = f"{kind}: {type(exc).__name__}"
            else:
                key = f"{kind}: {status}"
            end = time.perf_counter()
            if timed:
                step.in_flight -= 1
                step.done += 1
                step.latencies.append(end - due)
                step.kinds[kind] = step.kinds.get(kind, 0) + 1
                if not 200 <= status < 300:
                    step.errors[key] = step.errors.get(key, 0) + 1
            due = end if closed else due + interval
        gevent.sleep(3600)  # idle until the runner stops this user


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) by the nearest-rank method: p99 of 1,000 is the 990th."""
    if not values:
        return float("inf")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def run_step(env: Environment, scenario: str, rate: float, seconds: float) -> dict[str, Any]:
    """Hold ``rate`` requests/s for a warm-up and ``seconds`` of timed window; the results."""
    global STEP, USERS_STARTED
    start = time.perf_counter() + 0.5
    STEP = Step(
        scenario,
        rate,
        start,
        window_start=start + PLAN.warm_s,
        window_end=start + PLAN.warm_s + seconds,
    )
    step = STEP
    USERS_STARTED = 0
    runner = env.runner
    assert runner is not None
    runner.start(PLAN.clients, spawn_rate=100)
    gevent.sleep(max(0.0, step.window_start - time.perf_counter()))
    cpu0 = (
        cpu_seconds(PLAN.server_pids),
        cpu_seconds([PLAN.postmaster_pid]) if PLAN.postmaster_pid else 0.0,
        time.process_time(),
    )
    done0 = step.done
    gevent.sleep(max(0.0, step.window_end - time.perf_counter()))
    cpu1 = (
        cpu_seconds(PLAN.server_pids),
        cpu_seconds([PLAN.postmaster_pid]) if PLAN.postmaster_pid else 0.0,
        time.process_time(),
    )
    answered = max(1, step.done - done0)
    deadline = time.perf_counter() + PLAN.drain_s
    while step.in_flight and time.perf_counter() < deadline:
        gevent.sleep(0.05)
    unanswered = step.in_flight
    runner.stop()
    lat_ms = [x * 1000 for x in step.latencies]
    p50, p99 = percentile(lat_ms, 0.50), percentile(lat_ms, 0.99)
    if unanswered:
        p99 = float("inf")
        step.errors["unanswered"] = unanswered
    held = not step.errors and p99 <= PLAN.p99_ms
    result = {
        "scenario": scenario,
        "rate": rate,
        "seconds": seconds,
        "requests": step.due,
        "answered_in_window": step.done - done0,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": max(lat_ms, default=float("inf")),
        "errors": step.errors,
        "kinds": step.kinds,
        "app_cpu_ms": (cpu1[0] - cpu0[0]) / answered * 1000,
        "pg_cpu_ms": (cpu1[1] - cpu0[1]) / answered * 1000 if PLAN.postmaster_pid else None,
        "client_cpu_ms": (cpu1[2] - cpu0[2]) / answered * 1000,
        "held": held,
    }
    print(json.dumps(result), flush=True)
    mark = "held" if held else "missed"
    errors = f", errors {step.errors}" if step.errors else ""
    print(
        f"  {scenario:8} {rate:7.0f}/s ({result['answered_in_window'] / seconds:5.0f} answered/s): "
        f"p50 {p50:6.1f} ms, p99 {p99:7.1f} ms, "
        f"app {result['app_cpu_ms']:.2f} ms/req, {mark}{errors}",
        file=sys.stderr,
        flush=True,
    )
    return result


def capacity(env: Environment, scenario: str) -> float:
    """Answers per second when every user sends as soon as it is answered (a 2 s probe)."""
    result = run_step(env, scenario, 0.0, 2.0)
    return float(result["answered_in_window"]) / 2.0


def search(env: Environment, scenario: str) -> tuple[float, float]:
    """(highest rate held, closed-loop capacity): probe the capacity, then bisect between
    a held and a missed rate."""
    top = capacity(env, scenario)
    held, missed = 0.0, 1.15 * top
    rate = 0.7 * top
    for _ in range(PLAN.bisections):
        if run_step(env, scenario, rate, PLAN.step_s)["held"]:
            held = rate
        else:
            missed = rate
        rate = (held + missed) / 2 if held else missed / 2
    print(json.dumps({"scenario": scenario, "max_rate": held, "capacity": top}), flush=True)
    return held, top


def main() -> None:
    global PLAN
    PLAN = Plan(json.loads(Path(sys.argv[1]).read_text()))
    Client.host = PLAN.host
    env = Environment(user_classes=[Client], host=PLAN.host)
    env.create_local_runner()
    for scenario, rate, seconds in PLAN.fixed:
        run_step(env, scenario, rate, seconds)
    found = [search(env, scenario) for scenario in PLAN.scenarios]
    if PLAN.cost_fraction and found:
        # Half the lowest rate held; if one held none (a busy machine), half its capacity.
        cost_rate = PLAN.cost_fraction * min(held or top for held, top in found)
        for scenario in PLAN.scenarios:
            result = run_step(env, scenario, cost_rate, PLAN.cost_s)
            print(json.dumps({"cost": scenario, **result}), flush=True)
    print(json.dumps({"created": PLAN.created}), flush=True)
    assert env.runner is not None
    env.runner.quit()


if __name__ == "__main__":
    main()
