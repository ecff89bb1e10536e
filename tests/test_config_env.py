"""FEATURESTORE_* variables: an unknown one is warned about with the closest name, a bad value
is blamed on its variable (not on featurestore.toml); as a user sees it through the CLI too."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest
from cli_helpers import EXE

from featurestore import config as config_module
from featurestore.config import OTHER_VARIABLES, known_variables, load_config
from featurestore.errors import ConfigError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "featurestore.toml").write_text('project = "p"\n[serving]\nmax_entities = 5\n')
    return tmp_path


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    config_module._warned.clear()


def test_unknown_variable_is_warned_about_with_a_suggestion(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"FEATURESTORE_SERVING_MAX_ENTITES": "10", "FEATURESTORE_ONLINE_STORE": "sqlite:///x.db"}
    with caplog.at_level(logging.WARNING, logger="featurestore.config"):
        config = load_config(repo, env=env)
        load_config(repo, env=env)  # once per process, not once per load
    assert config.serving.max_entities == 5  # ignored
    warnings = [r.getMessage() for r in caplog.records if r.name == "featurestore.config"]
    assert len(warnings) == 1, warnings
    assert "FEATURESTORE_SERVING_MAX_ENTITES" in warnings[0]
    assert "did you mean FEATURESTORE_SERVING_MAX_ENTITIES?" in warnings[0]


def test_known_and_test_variables_are_not_warned_about(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {name: "1" for name in OTHER_VARIABLES} | {"FEATURESTORE_TEST_REDIS_PORT": "6379"}
    with caplog.at_level(logging.WARNING, logger="featurestore.config"):
        load_config(repo, env=env)
    assert not [r for r in caplog.records if r.name == "featurestore.config"]
    assert "FEATURESTORE_SERVING_MAX_ENTITIES" in known_variables()
    assert "FEATURESTORE_COMPUTE_ENGINE" in known_variables()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FEATURESTORE_SERVING_MAX_ENTITIES", "lots"),
        ("FEATURESTORE_SERVING_SKEW_SAMPLE_RATE", "2"),
        ("FEATURESTORE_PROJECT", "bad name"),
        ("FEATURESTORE_COMPUTE_ENGINE", "spark"),
    ],
)
def test_bad_value_is_blamed_on_the_variable(repo: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(repo, env={variable: value})
    message = caught.value.message
    assert message.startswith(f"environment variable {variable}={value!r} ("), message
    assert "featurestore.toml" not in message


def test_bad_value_in_the_file_is_still_blamed_on_the_file(repo: Path) -> None:
    (repo / "featurestore.toml").write_text('project = "p"\n[serving]\nmax_entities = 0\n')
    with pytest.raises(ConfigError, match=r"featurestore\.toml: serving\.max_entities"):
        load_config(repo, env={"FEATURESTORE_SERVING_SKEW_SAMPLE_RATE": "0.5"})


def _cli(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    return subprocess.run(
        [*EXE, "--repo", str(repo), *args],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_warns_and_blames(repo: Path) -> None:
    warned = _cli(repo, "list", "views", FEATURESTORE_ONLNE_STORE="redis://127.0.0.1:1/0")
    assert warned.returncode == 0, warned.stderr
    assert "FEATURESTORE_ONLNE_STORE" in warned.stderr
    assert "did you mean FEATURESTORE_ONLINE_STORE?" in warned.stderr
    bad = _cli(repo, "list", "views", FEATURESTORE_SERVING_MAX_ENTITIES="lots")
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert "environment variable FEATURESTORE_SERVING_MAX_ENTITIES='lots'" in bad.stderr
