"""What a CLI user notices: errors printed literally (never as Rich markup), a materialize bar
with a total and an ETA that ends at the summary's count, shell completion that installs, and
``apply --dry-run`` that writes nothing anywhere (PostgreSQL and SQLite)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_helpers import run

from tests.conftest import temporary_database


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cliops") / "repo"
    assert run("init", str(path)).returncode == 0
    return path


def _files(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


def test_error_with_brackets_is_printed_literally(tmp_path: Path) -> None:
    odd = tmp_path / "[/tmp/x]" / "[bold]repo"
    result = run("--repo", str(odd), "apply")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "MarkupError" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "[/tmp/x]/[bold]repo" in lines[0]


def test_materialize_bar_has_total_and_ends_at_the_summary(repo: Path) -> None:
    assert run("apply", cwd=repo).returncode == 0
    assert run("ingest", "driver_trips", cwd=repo).returncode == 0
    result = run("materialize", cwd=repo)
    assert result.returncode == 0, result.stderr
    summary = re.search(r"materialized (\d+) rows .*\(driver_trips: (\d+)\)", result.stdout)
    assert summary, result.stdout
    # the bar's last render: "driver_trips ━━━ 8/8 buckets, N rows 0:00:00"
    bars = re.findall(r"driver_trips\s.*?(\d+)/(\d+) buckets, (\d+) rows\s+(\S+)", result.stderr)
    assert bars, result.stderr
    done, total, rows, eta = bars[-1]
    assert done == total and int(total) > 0
    assert int(rows) == int(summary.group(2)) > 0
    assert re.fullmatch(r"\d+:\d\d:\d\d|-:--:--", eta), eta


def test_shell_completion_installs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("featurestore")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    env |= {"HOME": str(tmp_path), "SHELL": "/bin/bash"}
    done = subprocess.run(
        [str(exe), "--install-completion", "bash"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    script = tmp_path / ".bash_completions" / "featurestore.sh"
    assert script.is_file()
    assert str(script) in (tmp_path / ".bashrc").read_text()
    # what bash asks the program when the user presses tab after "featurestore mat"
    completion = env | {
        "_FEATURESTORE_COMPLETE": "complete_bash",
        "COMP_WORDS": "featurestore mat",
        "COMP_CWORD": "1",
    }
    words = subprocess.run([str(exe)], env=completion, capture_output=True, text=True)
    assert "materialize" in words.stdout.split(), words


def test_dry_run_writes_nothing_on_postgres(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert run("init", str(repo)).returncode == 0
    with temporary_database("dry") as url:
        config = repo / "featurestore.toml"
        text = re.sub(r"(?m)^registry = .*$", f'registry = "{url}"', config.read_text())
        config.write_text(text)
        before = _files(repo)
        dry = run("apply", "--dry-run", cwd=repo)
        assert dry.returncode == 0, dry.stderr
        assert "dry run" in dry.stdout and "add" in dry.stdout
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                assert sa.inspect(conn).get_table_names() == []  # no migrations, no project row
        finally:
            engine.dispose()
        assert _files(repo) == before  # no registry file, no online file, no __pycache__
        # a real apply then migrates and registers; a dry run after it plans "unchanged"
        assert run("apply", cwd=repo).returncode == 0
        again = run("apply", "--dry-run", "--json", cwd=repo)
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout)["summary"]
        assert summary["add"] == 0 and summary["unchanged"] > 0, summary


def test_dry_run_writes_nothing_on_sqlite(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert run("init", str(repo)).returncode == 0
    before = _files(repo)
    dry = run("apply", "--dry-run", cwd=repo)
    assert dry.returncode == 0, dry.stderr
    assert _files(repo) == before
    assert not (repo / ".featurestore").exists()
