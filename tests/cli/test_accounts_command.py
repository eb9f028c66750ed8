"""`gridmap users`, `gridmap keys` and `gridmap audit` on a committed database of their own."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.accounts_command import cli_principal
from cli.main import app
from gis.accounts import keys, logins
from gis.errors import NotAuthenticatedError
from tests.coverage_district import GRIDS, add_grid_manager, committed_lattice

runner = CliRunner()
PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def lattice(server_url: str) -> Iterator[Engine]:
    with committed_lattice(server_url, "gridmap_cli_accounts") as district:
        yield district.engine


def _env(engine: Engine) -> dict[str, str]:
    """The database, and a terminal wide enough that no table cell wraps mid-word."""
    return {"DATABASE_URL": engine.url.render_as_string(hide_password=False), "COLUMNS": "200"}


def _run(engine: Engine, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=_env(engine), input=input)
    return result.exit_code, result.stdout, result.stderr


def _logs_in(engine: Engine, username: str, password: str) -> bool:
    with Session(engine) as session:
        try:
            logins.check_password(session, username, password)
        except NotAuthenticatedError:
            return False
        finally:
            session.rollback()  # leave no failure behind to throttle later tries
    return True


def _accounts(engine: Engine) -> dict[str, dict[str, object]]:
    code, stdout, stderr = _run(engine, "users", "list", "--format", "json")
    assert code == 0, stderr
    return {a["username"]: a for a in json.loads(stdout)}


def _audit(engine: Engine, *args: str) -> list[dict[str, object]]:
    code, stdout, stderr = _run(engine, "audit", "--format", "json", *args)
    assert code == 0, stderr
    rows: list[dict[str, object]] = json.loads(stdout)
    return rows


def test_users_add_asks_twice_and_the_account_logs_in(lattice: Engine) -> None:
    code, stdout, stderr = _run(
        lattice, "users", "add", "wang.wei", "--role", "community", "--area", "370705001001",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, stderr
    assert "wang.wei" in stdout and "370705001001" in stdout
    assert PASSWORD not in stdout + stderr
    assert _logs_in(lattice, "wang.wei", PASSWORD)
    assert not _logs_in(lattice, "wang.wei", "another password")
    assert _accounts(lattice)["wang.wei"] == {
        "username": "wang.wei",
        "role": "community",
        "areas": ["370705001001"],
    }
    (entry,) = _audit(lattice, "--action", "account.add", "--user", cli_principal().login)[:1]
    assert entry["principal"] == cli_principal().login and entry["principal"].startswith("cli:")  # type: ignore[union-attr]
    assert entry["detail"] == {"username": "wang.wei", "role": "community", "staff_id": None}


def test_a_password_is_never_an_argument_and_must_be_typed_the_same_twice(
    lattice: Engine,
) -> None:
    code, _, stderr = _run(
        lattice, "users", "add", "li.na", "--role", "admin", "--password", PASSWORD
    )
    assert code == 2 and "--password" in stderr
    code, _, _ = _run(
        lattice, "users", "add", "li.na", "--role", "admin", input=f"{PASSWORD}\nsomething else\n"
    )
    assert code != 0  # asked again, and the input ran out: nothing added
    assert "li.na" not in _accounts(lattice)
    code, _, stderr = _run(
        lattice, "users", "add", "li.na", "--role", "admin", "--password-stdin", input="short\n"
    )
    assert code == 1 and "at least 8" in stderr and "Traceback" not in stderr
    assert "li.na" not in _accounts(lattice)


def test_a_grid_managers_account_covers_the_grids_of_their_staff_record(lattice: Engine) -> None:
    staff = add_grid_manager(lattice, "赵网格", GRIDS[1])
    code, _, stderr = _run(
        lattice, "users", "add", "zhao", "--role", "grid_manager", "--staff", str(staff),
        "--password-stdin", input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, stderr
    assert _accounts(lattice)["zhao"]["areas"] == [GRIDS[1]]
    code, stdout, _ = _run(lattice, "users", "list")
    assert code == 0
    assert "用户名" in stdout and "网格员" in stdout and "赵网格" in stdout and GRIDS[1] in stdout
    # an area instead of a staff record is refused, saying what to give
    code, _, stderr = _run(
        lattice, "users", "add", "zhao2", "--role", "grid_manager", "--area", GRIDS[1],
        "--password-stdin", input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert code == 1 and "--staff" in stderr


def test_users_add_refuses_what_it_cannot_store_in_one_line(lattice: Engine) -> None:
    for args, says in (
        (("--role", "community"), "--area"),
        (("--role", "community", "--area", "370705999999"), "370705999999"),
        (("--role", "subdistrict", "--area", "370705001001"), "subdistrict"),
    ):
        code, _, stderr = _run(
            lattice, "users", "add", "nobody", *args, "--password-stdin", input=f"{PASSWORD}\n"
        )
        assert code == 1 and says in stderr and "错误：" in stderr, stderr
    code, _, stderr = _run(lattice, "users", "add", "x", "--role", "mayor")
    assert code == 2 and "mayor" in stderr
    _run(lattice, "users", "add", "twice", "--role", "planner", "--password-stdin", input="p" * 9)
    code, _, stderr = _run(
        lattice, "users", "add", "TWICE", "--role", "planner", "--password-stdin", input="p" * 9
    )
    assert code == 1 and "exists already" in stderr
    assert _accounts(lattice)["twice"]["areas"] == ["370705"]  # the whole district


def test_disable_and_reset_password_end_logins_and_are_audited(lattice: Engine) -> None:
    _run(lattice, "users", "add", "sun", "--role", "district", "--area", "370705",
         "--password-stdin", input=f"{PASSWORD}\n")  # fmt: skip
    code, _, stderr = _run(
        lattice, "users", "reset-password", "sun", "--password-stdin", input="new password 2\n"
    )
    assert code == 0, stderr
    assert _logs_in(lattice, "sun", "new password 2") and not _logs_in(lattice, "sun", PASSWORD)
    code, _, stderr = _run(lattice, "users", "disable", "sun")
    assert code == 0, stderr
    assert not _logs_in(lattice, "sun", "new password 2")
    code, stdout, _ = _run(lattice, "users", "list", "--role", "district")
    assert "sun" in stdout and "停用" in stdout
    actions = [e["action"] for e in _audit(lattice, "--action", "account.")]
    assert actions[:2] == ["account.disable", "account.reset_password"]  # newest first
    code, _, stderr = _run(lattice, "users", "disable", "nosuchuser")
    assert code == 1 and "nosuchuser" in stderr


def test_keys_create_prints_the_key_alone_on_its_last_line_once(lattice: Engine) -> None:
    code, stdout, stderr = _run(
        lattice, "keys", "create", "--name", "12345热线", "--scopes", "open311,incidents:read",
        "--area", "370705001", "--days", "30",
    )  # fmt: skip
    assert code == 0, stderr
    key = stdout.rstrip("\n").splitlines()[-1]
    assert key.startswith("gm_") and " " not in key
    with Session(lattice) as session:
        principal = keys.key_principal(session, key)
    assert principal is not None and principal.name == "key:12345热线"
    assert principal.scopes == {"open311", "incidents:read"} and principal.areas == ("370705001",)
    code, listed, _ = _run(lattice, "keys", "list")
    assert code == 0 and "12345热线" in listed and key.split("_")[1] in listed
    assert key not in listed and key.split("_")[2] not in listed  # the secret is never shown again
    code, _, stderr = _run(lattice, "keys", "create", "--name", "x", "--scopes", "everything")
    assert code == 1 and "unknown scope" in stderr and "open311" in stderr

    code, stdout, stderr = _run(lattice, "keys", "revoke", "12345热线")
    assert code == 0, stderr
    with Session(lattice) as session:
        assert keys.key_principal(session, key) is None
    code, listed, _ = _run(lattice, "keys", "list")
    assert "已吊销" in listed
    entries = _audit(lattice, "--action", "key.")
    assert [e["action"] for e in entries[:2]] == ["key.revoke", "key.create"]
    assert key not in json.dumps(entries, ensure_ascii=False)


def test_audit_filters_and_formats(lattice: Engine) -> None:
    _run(lattice, "keys", "create", "--name", "audited", "--scopes", "features:read")
    me = cli_principal().login
    everything = _audit(lattice)
    assert everything and all(e["principal"] == me for e in everything)
    assert _audit(lattice, "--since", "2999-01-01") == []
    assert len(_audit(lattice, "--until", "2999-01-01T00:00+00:00", "--limit", "2")) == 2
    assert _audit(lattice, "--user", "someone-else") == []
    code, stdout, stderr = _run(lattice, "audit", "--format", "csv", "--action", "key.create")
    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert rows and {r["action"] for r in rows} == {"key.create"}
    assert json.loads(rows[0]["detail"])["name"] == "audited"
    code, stdout, _ = _run(lattice, "audit", "--action", "key.create")
    assert code == 0 and "审计记录" in stdout and "key.create" in stdout
    code, _, stderr = _run(lattice, "audit", "--since", "last tuesday")
    assert code == 1 and "ISO" in stderr
