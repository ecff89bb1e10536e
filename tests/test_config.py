"""featurestore.toml plus FEATURESTORE_* overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurestore.config import load_config
from featurestore.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "featurestore.toml").write_text(text)
    return tmp_path


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'project = "p"\n'), env={})
    assert config.registry == "sqlite:///.featurestore/registry.db"
    assert config.offline_path() == (tmp_path / ".featurestore/offline").resolve()
    url = config.sqlalchemy_url(config.registry)
    assert url == f"sqlite:///{(tmp_path / '.featurestore/registry.db').resolve()}"
    assert config.serving.skew_sample_rate == 0.01


def test_environment_overrides(tmp_path: Path) -> None:
    repo = write(tmp_path, 'project = "p"\n[serving]\nskew_sample_rate = 0.5\n')
    env = {
        "FEATURESTORE_ONLINE_STORE": "redis://127.0.0.1:6379/0",
        "FEATURESTORE_REGISTRY": "postgresql+psycopg://postgres@127.0.0.1/test",
        "FEATURESTORE_SERVING_SKEW_SAMPLE_RATE": "0.25",
        "FEATURESTORE_SERVING_MAX_ENTITIES": "10",
    }
    config = load_config(repo, env=env)
    assert config.online_store == "redis://127.0.0.1:6379/0"
    assert config.registry.startswith("postgresql+psycopg://")
    assert config.serving.skew_sample_rate == 0.25
    assert config.serving.max_entities == 10


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('project = "p"\nunknown = 1\n', "unknown"),
        ('project = "bad name"\n', "project"),
        ('project = "p"\n[serving]\nskew_sample_rate = 2\n', "skew_sample_rate"),
        ("project = \n", "not valid TOML"),
    ],
)
def test_invalid_config(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text), env={})


def test_missing_repo_or_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope", env={})
    with pytest.raises(ConfigError, match="featurestore init"):
        load_config(tmp_path, env={})


def test_offline_and_compute_tables(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        'project = "p"\noffline_store = "s3://bucket/prefix/"\n'
        '[offline]\nbuckets = 16\n[offline.storage_options]\naws_region = "eu-west-1"\n',
    )
    config = load_config(repo, env={"FEATURESTORE_COMPUTE_ENGINE": "ray"})
    assert config.offline.buckets == 16
    assert config.offline.storage_options == {"aws_region": "eu-west-1"}
    assert config.offline_root() == "s3://bucket/prefix"
    assert (config.compute.engine, config.compute.ray_address) == ("ray", "auto")
    local = load_config(write(tmp_path, 'project = "p"\n'), env={})
    assert local.offline_root() == str((tmp_path / ".featurestore/offline").resolve())
    assert (local.offline.buckets, local.compute.engine) == (8, "local")
    with pytest.raises(ConfigError, match=r"compute\.engine"):
        load_config(repo, env={"FEATURESTORE_COMPUTE_ENGINE": "spark"})
    with pytest.raises(ConfigError, match=r"offline\.buckets"):
        load_config(write(tmp_path, 'project = "p"\n[offline]\nbuckets = 0\n'), env={})
