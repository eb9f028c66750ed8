"""Edge-value fuzzer: every parameter and body field of every route, each edge value, no 5xx.

The demo district is loaded into a fresh database on the project's own
PostGIS (or ``DATABASE_URL``), the real app runs as a separate uvicorn
process on a free loopback port, and the routes are read from its OpenAPI
document. For each operation a valid request is built (known ids, codes and
bodies); then every path and query parameter, every body field (nested ones
included, and the optional fields a body leaves out) and the body as a whole
is replaced, one at a time, by each value of an edge list: NUL, lone
surrogates, empty, whitespace, 10,000 characters, NaN, ±inf, 1e308, negative,
zero, huge integers, the ends of the earth, wrong types, null, nested
objects, every datum name and a bogus one. After one pass, random pairs of
substitutions are sent until the request budget is spent.

Every request carries an admin's bearer login (so that it reaches the route's
own checks rather than stopping at 401), Open311 POSTs a live ``api_key``; no
body names an ``actor`` (who acts is the login). Requests go out on a few
keep-alive connections; a connection the server resets or closes is counted
and reopened. Printed: requests sent, answers by status class, 5xx (target
0), connection resets and server-side closes, and examples of each 5xx.

Run: ``.venv/bin/python benchmarks/edge_fuzz.py`` (about 42,000 requests;
``--requests N`` or ``--rounds R`` to change, ``--connections``, ``--seed``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import math
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import text

from gis.accounts.keys import SCOPES
from gis.db import schema
from gis.db.embedded import free_port
from gis.db.engine import make_engine, recreate_database
from gis.demo.load import load_demo

from bench_server import NO_FSYNC, api_key, bearer_headers, server
from incident_post_bench import app_server

ROOT = Path(__file__).resolve().parent.parent

TEXT_EDGES: list[Any] = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "",
    " ",
    " \t\r\n ",
    "x" * 10_000,
    "长" * 3000,
    "\u202eevil",
    "a\u200bb",
    "😀👨‍👩‍👧",
    "\x01\x1b[31m",
    "'; DROP TABLE incident; --",
    "../../etc/passwd",
    "%00",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e308",
    "-1",
    "0",
    "-0.0",
    "99999999999999999999999999999",
    "9223372036854775808",
    "2147483648",
    "-180",
    "-90",
    "180",
    "90",
    "-180,-90,180,90",
    "nan,nan,nan,nan",
    "1,2",
    "2026-02-30",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01",
    "true",
    "null",
    "wgs84",
    "cgcs2000",
    "gcj02",
    "bd09",
    "EPSG:4549",
    "EPSG:99999",
    "bogus-datum",
]
"""Values a query, path or form field can carry (all text on the wire)."""

JSON_EDGES: list[Any] = [
    *TEXT_EDGES,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    5e-324,
    -1,
    0,
    -0.0,
    2**31,
    2**63,
    10**30,
    -(10**30),
    -180,
    -90,
    180,
    90,
    True,
    False,
    None,
    [],
    {},
    [None, None],
    {"a": {"b": [1, [2, {"c": None}]]}},
    [[[[[[[[[[[]]]]]]]]]]],
]
"""Values a JSON body field can carry: the text ones and every JSON type."""

WHOLE_BODIES: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b'"x"',
    b"NaN",
    b"{" * 5000,
    b"[" * 20_000 + b"]" * 20_000,
    b'{"a": ' + b"9" * 5000 + b"}",
    b"\xff\xfe\x00",
    b'{"type": "Feature"}',
    json.dumps({"x": "y" * 60_000}).encode(),
    json.dumps({"x": "y" * 70_000}).encode(),
]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    path_params: dict[str, str]
    query: dict[str, str]
    optional_query: tuple[str, ...]
    body: Any
    body_kind: str  # "", "json" or "form"
    optional_body: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    """One request: an operation with some of its values replaced."""

    op: Operation
    path_params: dict[str, str]
    query: dict[str, Any]
    body: Any
    raw_body: bytes | None = None

    def encode(self) -> tuple[str, str, bytes | None, dict[str, str]]:
        path = self.op.path
        for name, value in self.path_params.items():
            path = path.replace("{" + name + "}", _quote(value))
        if self.query:
            path += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in self.query.items())
        if self.raw_body is not None:
            return self.op.method, path, self.raw_body, {"content-type": "application/json"}
        if self.op.body_kind == "json":
            raw = json.dumps(self.body, ensure_ascii=True).encode()  # NaN literal, \ud800 escape
            return self.op.method, path, raw, {"content-type": "application/json"}
        if self.op.body_kind == "form":
            form = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in self.body.items())
            ctype = "application/x-www-form-urlencoded"
            return self.op.method, path, form.encode(), {"content-type": ctype}
        return self.op.method, path, None, {}


def _quote(value: Any) -> str:
    """``value`` as URL text; a lone surrogate as the (non-UTF-8) bytes it would be."""
    if not isinstance(value, str):
        value = json.dumps(value)
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


# --------------------------------------------------------------------------- the valid requests


@dataclass(frozen=True)
class Known:
    """Ids and codes of the demo district a valid request names."""

    facility_id: int
    incident_id: int
    other_incident_id: int
    grid_code: str
    community_code: str
    category: str
    api_key: str
    """A live key with every scope (Open311's ``api_key``)."""
    login: dict[str, str]
    """The bearer login every request carries (admin: every route is open to it)."""


def known_values(url: str) -> Known:
    engine = make_engine(url)
    with engine.connect() as conn:
        facilities = conn.execute(text("SELECT id FROM facility ORDER BY id LIMIT 1")).scalar_one()
        incidents = conn.execute(
            text("SELECT id FROM incident WHERE status = 'reported' ORDER BY id LIMIT 2")
        ).all()
        grid = conn.execute(
            text("SELECT code FROM grid WHERE valid_to IS NULL ORDER BY code LIMIT 1")
        ).scalar_one()
    key = api_key(engine, "edge-fuzz", tuple(SCOPES))
    login = bearer_headers(engine, "fuzz-admin", "admin")
    engine.dispose()
    return Known(
        api_key=key,
        login=login,
        facility_id=int(facilities),
        incident_id=int(incidents[0][0]),
        other_incident_id=int(incidents[1][0]),
        grid_code=str(grid),
        community_code=str(grid)[:12],
        category="exposed_garbage",
    )


LON, LAT = 119.16, 36.71


def path_value(name: str, known: Known) -> str:
    values = {
        "facility_id": str(known.facility_id),
        "incident_id": str(known.incident_id),
        "grid_code": known.grid_code,
        "service_code": known.category,
        "service_request_id": str(known.incident_id),
        "format": "json",
    }
    return values.get(name, "1")


REQUIRED_QUERY = {
    "facility_type": "kindergarten",
    "start": "2026-01-01",
    "end": "2026-02-01",
}


def json_body(method: str, path: str, known: Known) -> Any:
    """A body the route accepts (or, for one it would store, nearly does)."""
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/incidents"): {
            "category": known.category,
            "description": "暴露垃圾",
            "source": "app",
            "lon": LON,
            "lat": LAT,
            "datum": "wgs84",
        },
        ("POST", "/api/v1/facilities"): {
            "type": "kindergarten",
            "name": "测试幼儿园",
            "lon": LON,
            "lat": LAT,
            "datum": "gcj02",
            "capacity": 100,
            "floor_area_m2": 1200.5,
        },
        ("PATCH", "/api/v1/facilities/{facility_id}"): {
            "name": "测试幼儿园",
            "lon": LON,
            "lat": LAT,
            "datum": "bd09",
        },
        ("POST", "/api/v1/incidents/{incident_id}/transitions"): {
            "action": "accept",
            "expected_version": 1,
            "note": "受理",
            "handler_staff_id": 1,
        },
        ("POST", "/api/v1/incidents/{incident_id}/merge"): {
            "into": known.other_incident_id,
            "note": "重复",
        },
        ("POST", "/api/v1/coverage/what-if"): {
            "facility_type": "kindergarten",
            "radius_m": 300,
            "open": [{"lon": LON, "lat": LAT, "datum": "wgs84"}],
            "close": [known.facility_id],
        },
    }
    return bodies.get((method, path), {})


def form_body(known: Known) -> dict[str, str]:
    return {
        "service_code": known.category,
        "lat": str(LAT),
        "long": str(LON),
        "attribute[datum]": "wgs84",
        "attribute[source]": "app",
        "description": "暴露垃圾",
        "api_key": known.api_key,
    }


def operations(openapi: dict[str, Any], known: Known) -> list[Operation]:
    ops = []
    for path, items in openapi["paths"].items():
        for method, op in items.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            params = op.get("parameters", [])
            path_params = {
                p["name"]: path_value(p["name"], known) for p in params if p["in"] == "path"
            }
            query = {
                p["name"]: REQUIRED_QUERY.get(p["name"], "1")
                for p in params
                if p["in"] == "query" and p.get("required")
            }
            optional = tuple(
                p["name"] for p in params if p["in"] == "query" and not p.get("required")
            )
            content = op.get("requestBody", {}).get("content", {})
            kind, body, optional_body = "", None, ()
            if "application/json" in content:
                kind, body = "json", json_body(method.upper(), path, known)
                optional_body = tuple(_properties(content["application/json"]["schema"]))
            elif "application/x-www-form-urlencoded" in content:
                kind, body = "form", form_body(known)
                schema = content["application/x-www-form-urlencoded"]["schema"]
                optional_body = tuple(_properties(schema))
            optional_body = tuple(k for k in optional_body if k not in (body or {}))
            ops.append(
                Operation(
                    method.upper(), path, path_params, query, optional, body, kind, optional_body
                )
            )
    return ops


def _properties(schema: dict[str, Any]) -> list[str]:
    names = list(schema.get("properties", {}))
    for alternative in schema.get("oneOf", []) + schema.get("anyOf", []):
        names += [n for n in _properties(alternative) if n not in names]
    return names


# --------------------------------------------------------------------------- the substitutions


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON body a value can be replaced (containers included)."""
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))


def _replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    body = json.loads(json.dumps(body))
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


Substitution = tuple[str, Any, Any]
"""(where: "path", "query", "body" or "whole", which name or body path, the value)."""


def substitutions(op: Operation) -> list[Substitution]:
    subs: list[Substitution] = []
    for name in op.path_params:
        subs += [("path", name, v) for v in TEXT_EDGES if v != ""]
    for name in (*op.query, *op.optional_query):
        subs += [("query", name, v) for v in TEXT_EDGES]
    if op.body_kind == "json":
        for where in [*_leaves(op.body), *((k,) for k in op.optional_body)]:
            subs += [("body", where, v) for v in JSON_EDGES]
        subs += [("whole", None, raw) for raw in WHOLE_BODIES]
    elif op.body_kind == "form":
        for name in [*op.body, *op.optional_body]:
            subs += [("body", (name,), v) for v in TEXT_EDGES]
    return subs


def probe(op: Operation, subs: tuple[Substitution, ...]) -> Probe:
    path_params, query, body = dict(op.path_params), dict(op.query), op.body
    raw: bytes | None = None
    for where, name, value in subs:
        if where == "path":
            path_params[name] = value
        elif where == "query":
            query[name] = value
        elif where == "whole":
            raw = value
        elif op.body_kind == "form":
            body = {**body, name[0]: value if isinstance(value, str) else json.dumps(value)}
        else:
            with contextlib.suppress(KeyError, IndexError, TypeError):
                body = _replaced(body, name, value)  # unless an earlier one removed the container
    return Probe(op, path_params, query, body, raw)


def plan(ops: list[Operation], total: int, seed: int) -> list[Probe]:
    """Every single substitution once, then random pairs until ``total`` requests."""
    rng = random.Random(seed)
    singles = [(op, s) for op in ops for s in substitutions(op)]
    probes = [probe(op, (s,)) for op, s in singles]
    by_op: dict[int, list[Substitution]] = {}
    for i, op in enumerate(ops):
        by_op[i] = substitutions(op)
    weighted = [i for i in by_op if by_op[i]]
    while len(probes) < total:
        i = rng.choice(weighted)
        pair = tuple(rng.sample(by_op[i], 2)) if len(by_op[i]) > 1 else tuple(by_op[i])
        probes.append(probe(ops[i], pair))
    rng.shuffle(probes)
    return probes[:total]


# --------------------------------------------------------------------------- sending


@dataclass
class Tally:
    statuses: Counter[int]
    resets: int = 0
    closed_by_server: int = 0
    examples: list[str] | None = None
    slowest: tuple[float, str] = (0.0, "")
    seconds: Counter[str] | None = None


def _send(
    port: int,
    probes: list[Probe],
    tally: Tally,
    lock: threading.Lock,
    timeout: float,
    login: dict[str, str],
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    for p in probes:
        method, url, body, headers = p.encode()
        if p.op.body_kind != "form":  # an Open311 POST's credential is its form's api_key
            headers = {**headers, **login}
        started = time.perf_counter()
        try:
            conn.request(method, url, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
        except (ConnectionError, http.client.HTTPException, TimeoutError, OSError) as exc:
            with lock:
                tally.resets += 1
                if tally.examples is not None and len(tally.examples) < 40:
                    tally.examples.append(f"RESET {type(exc).__name__}: {method} {url[:200]}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            continue
        elapsed = time.perf_counter() - started
        with lock:
            tally.statuses[response.status] += 1
            if tally.seconds is not None:
                tally.seconds[f"{p.op.method} {p.op.path}"] += elapsed
            if elapsed > tally.slowest[0]:
                tally.slowest = (elapsed, f"{method} {url[:160]}")
            if response.status >= 500 and tally.examples is not None and len(tally.examples) < 40:
                sent = (body or b"")[:200]
                tally.examples.append(
                    f"{response.status} {method} {url[:200]} body={sent!r} -> {answer[:200]!r}"
                )
            if response.will_close:
                tally.closed_by_server += 1
        if response.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.close()


def run(
    port: int, probes: list[Probe], connections: int, timeout: float, login: dict[str, str]
) -> Tally:
    tally = Tally(Counter(), examples=[], seconds=Counter())
    lock = threading.Lock()
    shares = [probes[i::connections] for i in range(connections)]
    threads = [
        threading.Thread(target=_send, args=(port, share, tally, lock, timeout, login))
        for share in shares
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def demo_database(server_url: str) -> str:
    url = recreate_database(server_url, "gridmap_edge_fuzz")
    engine = make_engine(url)
    schema.upgrade(engine)
    load_demo(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=42_000, help="requests (default 42,000)")
    parser.add_argument(
        "--rounds", type=float, default=None, help="passes over every substitution instead"
    )
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    args = parser.parse_args()

    with server(NO_FSYNC) as cluster:
        started = time.perf_counter()
        url = demo_database(cluster.url)
        known = known_values(url)
        print(f"demo loaded in {time.perf_counter() - started:.0f} s")
        port = free_port()
        with app_server(url, port, 1, ROOT, []):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json") as r:
                openapi = json.load(r)
            ops = operations(openapi, known)
            singles = sum(len(substitutions(op)) for op in ops)
            total = round(args.rounds * singles) if args.rounds else args.requests
            probes = plan(ops, total, args.seed)
            print(
                f"{len(ops)} operations, {singles:,} single substitutions; sending {len(probes):,} "
                f"requests on {args.connections} keep-alive connections"
            )
            started = time.perf_counter()
            tally = run(port, probes, args.connections, args.timeout, known.login)
            elapsed = time.perf_counter() - started
    sent = sum(tally.statuses.values()) + tally.resets
    classes = Counter(f"{s // 100}xx" for s in tally.statuses.elements())
    server_errors = sum(n for s, n in tally.statuses.items() if s >= 500)
    print(f"requests sent:        {sent:,} in {elapsed:.0f} s ({sent / elapsed:.0f}/s)")
    print(f"answers by class:     {dict(sorted(classes.items()))}")
    print(f"statuses:             {dict(sorted(tally.statuses.items()))}")
    print(f"5xx:                  {server_errors:,} (target 0)")
    print(f"connection resets:    {tally.resets:,}")
    print(f"closed by the server: {tally.closed_by_server:,}")
    print(f"slowest answer:       {tally.slowest[0] * 1000:.0f} ms, {tally.slowest[1]}")
    costly = ", ".join(f"{op} {t:.0f} s" for op, t in (tally.seconds or Counter()).most_common(4))
    print(f"most server time:     {costly}")
    for example in itertools.islice(tally.examples or [], 40):
        print("  " + example)
    if server_errors or tally.resets:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
