"""The load generator of ``tiles_bench.py``: closed-loop clients fetching tiles.

Run by ``tiles_bench.py`` in processes of their own (gevent patches the
standard library on import, which the benchmark's database work must not see):
``python benchmarks/tiles_clients.py PLAN.json``; it prints one JSON line on
stdout with the latency of every request (ms), the statuses and the bytes.

Each client is a greenlet with one keep-alive connection of its own
(``geventhttpclient``, the HTTP client locust's ``FastHttpUser`` uses, with a
C parser: one process sends several thousand requests a second), sending its
next request as soon as the last answer's body has been read, as a map in a
browser does with its tile requests (closed loop: at 32 clients there are at
most 32 requests in flight). Every request asks for gzip, as browsers do.

Two modes:

* ``once``: the plan's paths are shared out from one queue, each fetched once
  (the cold pass: a server just started, nothing in its cache);
* ``repeat``: every client goes round all the paths, from its own shuffled
  order, for ``seconds`` (the warm pass).

All processes of one run start at the plan's ``start_at`` (a wall-clock time),
so their windows coincide.
"""

from __future__ import annotations

import gevent.monkey

gevent.monkey.patch_all()

import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.queue  # noqa: E402
from geventhttpclient import URL, HTTPClient  # noqa: E402


def run(plan: dict[str, Any]) -> dict[str, Any]:
    url = URL(plan["host"])
    headers = {"Accept-Encoding": "gzip", **plan.get("headers", {})}
    paths: list[str] = plan["paths"]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    received = 0
    errors: Counter[str] = Counter()

    def fetch(http: HTTPClient, path: str) -> None:
        nonlocal received
        started = time.perf_counter()
        try:
            response = http.get(path, headers=headers)
            body = response.read()
            response.release()
        except Exception as exc:  # counted; the run goes on
            errors[type(exc).__name__] += 1
            return
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[response.status_code] += 1
        received += len(body)

    def client_once(queue: gevent.queue.Queue[str]) -> None:
        http = HTTPClient.from_url(url, concurrency=1, connection_timeout=30, network_timeout=120)
        try:
            while True:
                try:
                    path = queue.get_nowait()
                except gevent.queue.Empty:
                    return
                fetch(http, path)
        finally:
            http.close()

    def client_repeat(order: list[str], until: float) -> None:
        http = HTTPClient.from_url(url, concurrency=1, connection_timeout=30, network_timeout=120)
        try:
            i = 0
            while time.perf_counter() < until:
                fetch(http, order[i % len(order)])
                i += 1
        finally:
            http.close()

    delay = plan["start_at"] - time.time()
    if delay > 0:
        time.sleep(delay)
    started = time.perf_counter()
    if plan["mode"] == "once":
        queue: gevent.queue.Queue[str] = gevent.queue.Queue()
        for p in paths:
            queue.put(p)
        greenlets = [gevent.spawn(client_once, queue) for _ in range(plan["clients"])]
    else:
        until = started + plan["seconds"]
        rng = random.Random(plan.get("seed", 0))
        greenlets = []
        for _ in range(plan["clients"]):
            order = list(paths)
            rng.shuffle(order)
            greenlets.append(gevent.spawn(client_repeat, order, until))
    gevent.joinall(greenlets)
    elapsed = time.perf_counter() - started
    return {
        "elapsed_s": elapsed,
        "latencies_ms": latencies,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": dict(errors),
        "bytes": received,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(Path(sys.argv[1]).read_text()))))
