"""Bounded work: how long a request's SQL may run, and how many heavy requests run at once.

Every route is one of three kinds. Reads of a page or a record are LIGHT;
POST, PATCH and DELETE are WRITEs; a route that analyses a period or the whole
district (statistics, hot spots, coverage roll-ups, blind spots, exports)
declares itself HEAVY with ``dependencies=[HEAVY]``. Each kind has its
statement timeout (``gis.db.timeouts``, set from ``ServerSettings``), and heavy
requests take one of a few slots before they start: beyond the slots, a request
waits briefly and is then refused with a 503 and ``Retry-After``, so a burst of
analyses can hold at most that many threads of the threadpool and connections
of the pool, and pages, writes and /healthz keep being served beside them.

The slot is taken in the event loop, before the handler gets a thread, so a
waiting request holds no thread and no connection. FastAPI's own
``Depends(max_concurrency=…)`` waits without end and is fixed when the route is
declared; this cap is sized per app and refuses instead of queueing.
"""

from __future__ import annotations

import enum
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.routing import SAFE_METHODS
from gis.db.timeouts import limit_statements
from gis.lang import Texts
from gis.settings import ServerSettings


class WorkKind(enum.StrEnum):
    LIGHT = "light"
    HEAVY = "heavy"
    WRITE = "write"


class WorkRefusedError(Exception):
    """A request refused or stopped to keep the service responsive: a 503 with Retry-After.

    Not a domain error: it is about this server's capacity, not the data, and
    only the API raises it (``api.errors`` renders it).
    """

    def __init__(self, code: str, texts: Texts, retry_after_s: int) -> None:
        super().__init__(texts.en)
        self.code = code
        self.texts = texts
        """The description in both languages (``api.lang`` picks)."""
        self.retry_after_s = retry_after_s


class HeavyWorkCap:
    """At most ``size`` heavy requests at once; the next waits ``wait_s`` for a slot.

    One per app; it lives on the app's event loop (uvicorn runs one per worker,
    so each worker has its own cap).
    """

    def __init__(self, size: int, wait_s: float) -> None:
        self.size = size
        self.wait_s = wait_s
        self._slots = anyio.Semaphore(size, fast_acquire=True)

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.wait_s))

    async def acquire(self) -> None:
        """Take a slot, or raise WorkRefusedError after waiting ``wait_s`` for one."""
        try:
            self._slots.acquire_nowait()
            return
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(self.wait_s):
            await self._slots.acquire()
            return
        raise WorkRefusedError(
            "ServerBusy",
            Texts(
                f"服务器繁忙：已有 {self.size} 个统计分析类请求（统计、热点、覆盖、导出）在运行，"
                "已达同时运行的上限（GRIDMAP_HEAVY_CONCURRENCY）。未做任何处理；"
                f"请 {self.retry_after_s} 秒后重试（Retry-After）。",
                f"The server is busy: {self.size} heavy requests (statistics, hot spots, "
                "coverage, exports) are already running, which is as many as it runs at once "
                "(GRIDMAP_HEAVY_CONCURRENCY). Nothing was done; retry after "
                f"{self.retry_after_s} s (Retry-After).",
            ),
            self.retry_after_s,
        )

    def release(self) -> None:
        self._slots.release()

    @property
    def running(self) -> int:
        """Heavy requests holding a slot now."""
        return self.size - self._slots.value


def heavy_work_cap(settings: ServerSettings) -> HeavyWorkCap:
    return HeavyWorkCap(settings.heavy_concurrency, settings.heavy_wait_s)


async def _heavy_slot(request: Request) -> AsyncIterator[None]:
    """Mark the request heavy and hold a slot of the app's cap while it runs."""
    request.state.work_kind = WorkKind.HEAVY
    cap: HeavyWorkCap = request.app.state.heavy_cap
    await cap.acquire()
    try:
        yield
    finally:
        cap.release()


HEAVY = Depends(_heavy_slot)
"""Route dependency of a heavy route: ``@router.get(..., dependencies=[HEAVY])``.

Route dependencies are solved before the handler's own, so the slot is held
before any other dependency touches the database."""


def heavy_if(is_heavy: Callable[[Request], bool]) -> Any:
    """A route dependency that makes the request heavy (as :data:`HEAVY`) when
    ``is_heavy(request)`` says so: one route serving light and heavy reads (OGC API
    Features: a page of buildings, or the coverage of every building)."""

    async def slot(request: Request) -> AsyncIterator[None]:
        if not is_heavy(request):
            yield
            return
        request.state.work_kind = WorkKind.HEAVY
        cap: HeavyWorkCap = request.app.state.heavy_cap
        await cap.acquire()
        try:
            yield
        finally:
            cap.release()

    return Depends(slot)


def kind_of(request: Request) -> WorkKind:
    """The request's kind: as its route declared, else LIGHT for a read, WRITE otherwise."""
    declared: WorkKind | None = getattr(request.state, "work_kind", None)
    if declared is not None:
        return declared
    return WorkKind.LIGHT if request.method in SAFE_METHODS else WorkKind.WRITE


def _timeout_s(settings: ServerSettings, kind: WorkKind) -> float:
    if kind is WorkKind.HEAVY:
        return settings.heavy_timeout_s
    if kind is WorkKind.WRITE:
        return settings.write_timeout_s
    return settings.light_timeout_s


def bound_session(request: Request, session: Session) -> None:
    """Give the request's session the statement timeout of its kind."""
    settings: ServerSettings = request.app.state.settings
    limit_statements(session, _timeout_s(settings, kind_of(request)))


_WHAT_TO_DO = {
    WorkKind.HEAVY: (
        "请缩短时间段、缩小范围后重试。",
        "Ask for less: a shorter period, one category, a coarser level or a smaller area; "
        "or retry later, when the server is less busy.",
    ),
    WorkKind.LIGHT: (
        "请减少每页条数或缩小范围后重试。",
        "Ask for less: a smaller page (limit) or a bounding box (bbox); or retry later.",
    ),
    WorkKind.WRITE: (
        "本次写入已回滚，请稍后重试。",
        "The write was rolled back, nothing was changed; retry later.",
    ),
}


def query_timeout(request: Request) -> WorkRefusedError:
    """The answer to a statement of ``request`` the server cancelled for its timeout:
    how long its kind may run, and what to ask instead."""
    kind = kind_of(request)
    seconds = _timeout_s(request.app.state.settings, kind)
    zh, en = _WHAT_TO_DO[kind]
    retry_after = max(1, math.ceil(seconds))
    return WorkRefusedError(
        "QueryTimeout",
        Texts(
            f"查询超过 {seconds:g} 秒的时限（GRIDMAP_{kind.upper()}_TIMEOUT_S），已被中止。{zh}",
            f"The database work of this request ran "
            f"longer than this server allows for a {kind} request ({seconds:g} s, "
            f"GRIDMAP_{kind.upper()}_TIMEOUT_S) and was cancelled. {en}",
        ),
        retry_after,
    )
