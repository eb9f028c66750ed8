"""What a failed command prints: one line saying what went wrong, where, and what to do.

Every ``gridmap`` command runs through :func:`explained`. A domain error
(``gis.errors``) already says what to do; a database that stopped answering
mid-command (a driver ``OperationalError``: the server was stopped, crashed or
restarted) is told as such, with where to start it, instead of a psycopg
traceback; an interrupted command says what became of its work. Anything else
is a bug: one line naming it, and ``GRIDMAP_DEBUG=1`` shows the traceback for
the report. The line is in the run's language (``cli.lang``): a domain error's
Chinese text where it has one (``GridmapError.text``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cli.lang import lang, t
from gis.db.engine import first_line
from gis.errors import GridmapError
from gis.settings import CliSettings, DatabaseSettings

err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

_LOST = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
"""The server went away or cannot be reached: not the command's fault, nor the data's."""


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as the command's one error line and exit ``code``.

    Line breaks inside it (a driver's multi-line message) are joined and
    the line is never re-wrapped at the terminal's width, so that a log or a
    ``grep`` sees the whole of it.
    """
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    err.print(f"[bold red]{t('错误：', 'error: ')}[/]{escape(line)}", soft_wrap=True)
    return typer.Exit(code)


def _way_back() -> str:
    """What to do about the database, with the URL's password hidden."""
    settings = DatabaseSettings()
    if settings.database_url:
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        return t(
            f"请检查 DATABASE_URL 指向的服务器（{url}）是否运行并接受连接",
            f"Check that the server at DATABASE_URL ({url}) runs and accepts connections",
        )
    return t(
        f"请用 `gridmap db start` 启动内置 PostGIS（数据在 {settings.data_dir}），"
        "或将 DATABASE_URL 设为一台运行中的服务器",
        f"Start the embedded PostGIS with `gridmap db start` (data in {settings.data_dir}), "
        "or set DATABASE_URL to a running server",
    )


def database_lost(exc: BaseException) -> str:
    """The line for a database that stopped answering mid-command."""
    return t(
        f"数据库停止响应（{first_line(exc)}）；本命令尚未提交的内容没有保存（导入不保存任何数据）。"
        f"{_way_back()}，然后重新运行命令。",
        f"the database stopped answering ({first_line(exc)}); what this command had not "
        f"committed is not stored (an import stores nothing). {_way_back()}, then run the "
        "command again.",
    )


def explained(func: F) -> F:
    """Run a command so that any failure is one line on stderr and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException):
            raise  # the command's own way out, already said
        except GridmapError as exc:
            raise fail(exc.text(lang())) from None
        except _LOST as exc:
            raise fail(database_lost(exc)) from None
        except DBAPIError as exc:
            raise fail(
                t(
                    f"数据库拒绝了该命令：{first_line(exc)}。如果数据库结构比本版 gridmap 旧，"
                    "请运行 `gridmap db migrate`；否则请报告此问题。",
                    f"the database refused the command: {first_line(exc)}. If the schema is "
                    "older than this gridmap, run `gridmap db migrate`; otherwise please report "
                    "it.",
                )
            ) from None
        except KeyboardInterrupt:
            raise fail(
                t(
                    "已中断；尚未提交的内容没有保存",
                    "interrupted; what had not been committed is not stored",
                ),
                130,
            ) from None
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise fail(
                t(
                    f"{exc.strerror or exc}{where}；请检查路径及其权限",
                    f"{exc.strerror or exc}{where}; check the path and its permissions",
                )
            ) from None
        except Exception as exc:
            message = t(
                f"意外的 {type(exc).__name__}：{first_line(exc)}。这是 gridmap 的缺陷："
                "请连同所运行的命令一起报告（GRIDMAP_DEBUG=1 显示调用栈）。",
                f"unexpected {type(exc).__name__}: {first_line(exc)}. This is a bug in "
                "gridmap: please report it with the command you ran (GRIDMAP_DEBUG=1 shows "
                "the traceback).",
            )
            if CliSettings().debug:
                fail(message)
                raise
            raise fail(message) from None

    return wrapper  # type: ignore[return-value]
