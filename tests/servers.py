"""A real HTTP server for tests that need one: uvicorn serving an app in a thread.

For what TestClient cannot show: keep-alive connections, a browser, a database
restarting under a running server.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from gis.db.embedded import free_port


@contextlib.contextmanager
def served(
    app: Any, port: int | None = None, log_level: str = "critical", start_timeout_s: float = 30
) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` while uvicorn serves ``app`` (lifespan on), stopped after.

    ``port``: where the app was told it listens (settings), else any free one.
    """
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-test-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server did not start within {start_timeout_s:g} s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
