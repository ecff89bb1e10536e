"""The schema: Alembic migrations build exactly the tables the code uses, even concurrently."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from featurestore.errors import ConfigError, RegistryError, RegistryUnavailableError
from featurestore.registry import ObjectSpec, Registry
from featurestore.registry.engine import migrations_dir
from featurestore.registry.tables import VERSION_TABLE, metadata
from tests.conftest import free_port

HEAD = ScriptDirectory(str(migrations_dir())).get_current_head()


def _revision(conn: sa.Connection) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def test_migrations_are_numbered_and_linear() -> None:
    files = sorted(p.name for p in (migrations_dir() / "versions").glob("*.py"))
    assert files and all(name[:4].isdigit() for name in files)
    script = ScriptDirectory(str(migrations_dir()))
    assert len(script.get_heads()) == 1
    assert [s.revision for s in script.walk_revisions()][-1] == "0001"


def test_opening_migrates_an_empty_database_to_match_the_tables(
    fresh_registry_url: str, project_name: str
) -> None:
    Registry(fresh_registry_url, project_name).close()
    engine = sa.create_engine(fresh_registry_url)
    try:
        with engine.connect() as conn:
            assert _revision(conn) == HEAD
            context = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_drops_every_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    Registry(url, "p").close()
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert [t for t in sa.inspect(engine).get_table_names() if t != VERSION_TABLE] == []
    finally:
        engine.dispose()
    with Registry(url, "p") as again:  # and it comes back on the next open
        assert again.list() == []


_OPEN_WHEN_TOLD = """
import sys, time
from pathlib import Path
from featurestore.registry import ObjectSpec, Registry
url, project, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
(folder / f"ready_{project}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
with Registry(url, project) as reg:
    reg.apply([ObjectSpec("view", project, {"by": project})], partial=True)
print("opened")
"""


def test_processes_opening_a_fresh_database_at_once_all_succeed(
    fresh_registry_url: str, tmp_path: Path
) -> None:
    names = ["p0", "p1"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_WHEN_TOLD, fresh_registry_url, name, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    # Start them together only once every interpreter has imported featurestore.
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready_{n}").exists() for n in names):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    (tmp_path / "go").touch()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        assert out.strip() == "opened"
    with Registry(fresh_registry_url, "p0") as reg:
        assert [o.spec for o in reg.list()] == [{"by": "p0"}]


def test_in_memory_sqlite_and_missing_folders_work(tmp_path: Path) -> None:
    with Registry("sqlite://", "p") as reg:
        reg.apply([ObjectSpec("entity", "e", {})])
        assert reg.get("entity", "e").version == 1
    with Registry(f"sqlite:///{tmp_path / 'a' / 'b' / 'registry.db'}", "p") as reg:
        assert reg.list() == []


def test_unreachable_database_is_a_registry_error_without_the_password() -> None:
    url = f"postgresql://fs:s3cret@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(RegistryError) as caught:
        Registry(url, "p")
    message = str(caught.value)
    assert "registry postgresql+psycopg://fs:***@127.0.0.1" in message
    assert "s3cret" not in message


def test_unusable_sqlite_path_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=f"registry sqlite:///{tmp_path} cannot be used"):
        Registry(f"sqlite:///{tmp_path}", "p")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(RegistryError, match=r"its folder .*a_file cannot be created"):
        Registry(f"sqlite:///{tmp_path / 'a_file' / 'registry.db'}", "p")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "uses 'mysql'; the registry supports sqlite and postgresql"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Registry(url, "p")


def test_empty_project_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="project name '' must be a non-empty string"):
        Registry(f"sqlite:///{tmp_path / 'r.db'}", "")


def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    Registry(url, "p").close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(RegistryError, match="revision '9999', newer than this featurestore knows"):
        Registry(url, "p")


def test_a_dropped_table_is_a_damaged_registry_not_an_unavailable_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Registry(url, "p") as reg:
        reg.apply([ObjectSpec("entity", "e", {})])
        engine = sa.create_engine(url)
        with engine.begin() as conn:  # what a hand edit or a bad restore leaves
            conn.execute(sa.text("DROP TABLE fs_object_versions"))
        engine.dispose()
        with pytest.raises(RegistryError, match="does not have the tables") as caught:
            reg.list()
        assert not isinstance(caught.value, RegistryUnavailableError)  # a 500, not a 503
