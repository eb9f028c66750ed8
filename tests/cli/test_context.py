"""The engines a command opens: the owner's for its work, gridmap_app's for the server it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cli.context import open_app_engines
from gis.db.embedded import EmbeddedPostgres
from gis.db.roles import APP_ROLE, connected_role, enable_app_login
from gis.errors import DatabaseUnavailableError
from gis.settings import DatabaseSettings


def test_serve_and_demo_serve_as_gridmap_app_on_the_embedded_cluster(cluster_dir: Path) -> None:
    settings = DatabaseSettings.model_validate(
        {"DATABASE_URL": None, "GRIDMAP_DATA_DIR": cluster_dir}
    )
    with open_app_engines(settings) as (owner, app):
        assert connected_role(owner) == "gridmap"  # migrations and the demo's load
        assert connected_role(app) == APP_ROLE
    assert EmbeddedPostgres(cluster_dir).running_port() is None  # stopped: this call started it


def test_on_another_server_the_app_url_setting_is_used(engine: Engine, tmp_path: Path) -> None:
    owner_url = engine.url.render_as_string(hide_password=False)
    app_url = enable_app_login(engine, tmp_path / "app_password")
    settings = DatabaseSettings.model_validate(
        {"DATABASE_URL": owner_url, "GRIDMAP_APP_DATABASE_URL": app_url}
    )
    with open_app_engines(settings) as (owner, app):
        assert (connected_role(owner), connected_role(app)) == (engine.url.username, APP_ROLE)
    wrong = app_url.replace(app_url.split(":")[2].split("@")[0], "wrong-password")
    settings = DatabaseSettings.model_validate(
        {"DATABASE_URL": owner_url, "GRIDMAP_APP_DATABASE_URL": wrong}
    )
    with (
        pytest.raises(DatabaseUnavailableError, match="GRIDMAP_APP_DATABASE_URL"),
        open_app_engines(settings),
    ):
        pass
