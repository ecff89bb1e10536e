"""The CLI as users run it: a real subprocess, one clear line on mistakes, no traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from cli_helpers import run
from typer.core import TyperGroup
from typer.testing import CliRunner

from featurestore.cli import app


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "repo"
    result = run("init", str(path))
    assert result.returncode == 0, result.stderr
    return path


def _command_paths(group: TyperGroup, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, TyperGroup):
            yield from _command_paths(command, (*path, name))


def test_help_has_examples() -> None:
    top = run("--help")  # the installed command, as users run it
    assert top.returncode == 0 and "Example" in top.stdout
    # every command and subcommand, found from the app itself (in process: one start-up)
    paths = list(_command_paths(typer.main.get_group(app)))
    assert {("policy", "evaluate"), ("rollout", "start"), ("parity", "skew")} <= set(paths)
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], terminal_width=120)
        assert result.exit_code == 0, (path, result.output)
        assert "Example" in result.output, path


def test_apply_dry_run_then_apply_then_unchanged(repo: Path) -> None:
    dry = run("apply", "--dry-run", cwd=repo)
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "add" in dry.stdout
    first = run("apply", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert "driver_trips" in first.stdout
    again = run("apply", cwd=repo)
    assert again.returncode == 0
    assert "0 add" in again.stdout and "0 change" in again.stdout


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_bad_repo_path(tmp_path: Path) -> None:
    one_line_error(run("--repo", str(tmp_path / "nope"), "apply"), "does not exist")


def test_definition_file_that_fails_to_import(tmp_path: Path) -> None:
    (tmp_path / "featurestore.toml").write_text('project = "p"\n')
    (tmp_path / "broken.py").write_text("import featurestore\n\nx = undefined_name\n")
    one_line_error(run("apply", cwd=tmp_path), "broken.py", "line 3", "undefined_name")


def test_invalid_definition(tmp_path: Path) -> None:
    (tmp_path / "featurestore.toml").write_text('project = "p"\n')
    (tmp_path / "defs.py").write_text(
        "from featurestore import Entity\n\ndriver = Entity('bad name')\n"
    )
    one_line_error(run("apply", cwd=tmp_path), "defs.py", "'bad name'")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("--debug", "--repo", str(tmp_path / "nope"), "apply")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_version() -> None:
    result = run("version")
    assert result.returncode == 0 and result.stdout.startswith("featurestore ")


@pytest.mark.parametrize("command", ["ingest", "describe"])
def test_an_error_quotes_at_most_100_characters_of_a_long_input(repo: Path, command: str) -> None:
    result = run(command, "q" * 5000, cwd=repo)
    one_line_error(result, "q" * 100)
    assert "q" * 101 not in result.stderr
