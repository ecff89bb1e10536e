"""``featurestore.toml`` plus ``FEATURESTORE_*`` environment overrides.

Top-level keys are overridden by ``FEATURESTORE_<KEY>`` (``FEATURESTORE_ONLINE_STORE``), keys of
the ``[serving]``, ``[ingestion]``, ``[offline]`` and ``[compute]`` tables by
``FEATURESTORE_<TABLE>_<KEY>`` (``FEATURESTORE_SERVING_SKEW_SAMPLE_RATE``,
``FEATURESTORE_COMPUTE_ENGINE``);
values are read as TOML scalars/arrays when they parse, else as plain strings. Relative paths
(``sqlite:///rel.db``, ``offline_store``) are resolved against the repo folder. A
``FEATURESTORE_*`` variable that names no setting is warned about (logged once, with the
closest name), and a refused value is blamed on its variable, not on the file.

The layering is our own rather than pydantic-settings': the variables follow the TOML tables
with one underscore (``FEATURESTORE_SERVING_MAX_ENTITIES``, no nested delimiter), a value is read
as a TOML literal, and the file and the environment merge table by table; pydantic-settings
would need a ``__`` delimiter (renaming every documented variable) and still reports neither
unknown variables nor which source gave a bad value.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from featurestore.errors import ConfigError, FeatureStoreError

__all__ = [
    "ALERT_EVENTS",
    "CONFIG_FILE",
    "OTHER_VARIABLES",
    "AlertConfig",
    "ComputeConfig",
    "Config",
    "IngestionConfig",
    "OfflineConfig",
    "ServingConfig",
    "TokenConfig",
    "known_variables",
    "load_config",
]

CONFIG_FILE = "featurestore.toml"

logger = logging.getLogger("featurestore.config")


class TokenConfig(BaseModel):
    """A bearer token and what it may do: ``read`` (features, reports) and/or ``write`` (push, feedback, materialize)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    token: str = Field(min_length=8)
    scopes: tuple[Literal["read", "write"], ...] = ("read",)


ALERT_EVENTS = (
    "contract_rejected",
    "quarantined",
    "skew",
    "drift",
    "detector",
    "retrain",
    "rollout",
)
AlertEvent = Literal[
    "contract_rejected", "quarantined", "skew", "drift", "detector", "retrain", "rollout"
]


class AlertConfig(BaseModel):
    """One ``[[alerts]]`` entry: a webhook and the events posted to it.

    Each delivery is posted as JSON ``{event, project, summary, details, at, text}`` by a
    background worker, retried ``max_attempts`` times in all, waiting ``backoff`` seconds before
    the first retry and twice as long before each next one (at most ``max_backoff``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = Field(pattern=r"^https?://[^\s]+$")
    events: tuple[AlertEvent, ...] = ALERT_EVENTS  # type: ignore[assignment]
    timeout: float = Field(default=5.0, gt=0, le=300)
    max_attempts: int = Field(default=6, ge=1, le=100)
    backoff: float = Field(default=1.0, ge=0, le=3600)
    max_backoff: float = Field(default=300.0, ge=0)


class ServingConfig(BaseModel):
    """The ``[serving]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    skew_sample_rate: float = Field(default=0.01, ge=0.0, le=1.0)
    skew_check_interval: float | None = Field(default=None, gt=0, description="seconds")
    policy_check_interval: float | None = Field(
        default=None, gt=0, description="seconds between evaluations of the retraining policies"
    )
    max_entities: int = Field(default=1000, ge=1)
    #: the largest request body the server reads (bytes); larger ones get 413
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_buffer_size: int = Field(default=100_000, ge=1)
    tokens: tuple[TokenConfig, ...] = ()
    ui: bool = True


class IngestionConfig(BaseModel):
    """The ``[ingestion]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: rows whose event or created time is later than now + this are quarantined ("max_future"),
    #: and ``materialize`` refuses an ``end`` beyond it
    max_future: dt.timedelta = dt.timedelta(days=1)

    @field_validator("max_future", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            from featurestore.durations import parse_duration

            try:
                return parse_duration(value, "max_future")
            except FeatureStoreError as exc:
                raise ValueError(exc.message) from None
        return value


class OfflineConfig(BaseModel):
    """The ``[offline]`` table (DESIGN §13)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: key buckets of a view's offline rows; fixed per view when it is first ingested
    buckets: int = Field(default=8, ge=1, le=4096)
    #: options of the object store (``aws_endpoint_url``, ``aws_region``...); the standard AWS
    #: environment variables are read too
    storage_options: dict[str, str] = {}


class ComputeConfig(BaseModel):
    """The ``[compute]`` table: where per-bucket jobs run (DESIGN §13)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    engine: Literal["local", "ray"] = "local"
    #: ``"auto"`` joins a running Ray cluster, else starts a local instance
    ray_address: str = "auto"
    #: buckets the local engine computes at once (threads); 1 = one bucket at a time
    workers: int = Field(default=2, ge=1, le=64)


class Config(BaseModel):
    """A feature repo's configuration (``featurestore.toml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    project: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    registry: str = "sqlite:///.featurestore/registry.db"
    offline_store: str = ".featurestore/offline"
    online_store: str = "sqlite:///.featurestore/online.db"
    serving: ServingConfig = ServingConfig()
    alerts: tuple[AlertConfig, ...] = ()
    ingestion: IngestionConfig = IngestionConfig()
    offline: OfflineConfig = OfflineConfig()
    compute: ComputeConfig = ComputeConfig()
    repo_path: Path = Path(".")

    def offline_path(self) -> Path:
        return _resolve_path(self.repo_path, self.offline_store)

    def offline_root(self) -> str:
        """The offline store's root: an object-store URL as given, else an absolute path."""
        if "://" in self.offline_store and not self.offline_store.startswith("file://"):
            return self.offline_store.rstrip("/")
        return str(_resolve_path(self.repo_path, self.offline_store.removeprefix("file://")))

    def sqlalchemy_url(self, url: str, *, create_folder: bool = True) -> str:
        """Resolve a relative ``sqlite:///`` path against the repo folder and (unless
        ``create_folder`` is False) create its folder."""
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            path = _resolve_path(self.repo_path, url[len(prefix) :])
            if create_folder:
                path.parent.mkdir(parents=True, exist_ok=True)
            return prefix + str(path)
        return url


def _resolve_path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


#: ``FEATURESTORE_*`` variables that are read elsewhere, not configuration keys
OTHER_VARIABLES = frozenset(
    {
        "FEATURESTORE_REPO",
        "FEATURESTORE_FAULT",
        "FEATURESTORE_EXPR_PROFILE",
        "FEATURESTORE_SERVER_REFRESH_SECONDS",
        "FEATURESTORE_SERVER_FREEZE_GC",
    }
)
_PREFIX = "FEATURESTORE_"
_TEST_PREFIX = "FEATURESTORE_TEST_"  # the test suite's own (service ports, artifacts)
_TABLES: dict[str, type[BaseModel]] = {
    "serving": ServingConfig,
    "ingestion": IngestionConfig,
    "offline": OfflineConfig,
    "compute": ComputeConfig,
}
#: the top-level settings a variable may override (alerts is a list of tables: none does)
_TOP = tuple(k for k in Config.model_fields if k not in (*_TABLES, "alerts", "repo_path"))
_warned: set[str] = set()


def known_variables() -> list[str]:
    """Every ``FEATURESTORE_*`` variable featurestore reads (settings and the others)."""
    names = [_PREFIX + k.upper() for k in _TOP]
    for table, model in _TABLES.items():
        names += [f"{_PREFIX}{table.upper()}_{k.upper()}" for k in model.model_fields]
    return sorted({*names, *OTHER_VARIABLES})


def _warn_unknown(key: str) -> None:
    """Log once per process that ``key`` is ignored, with the closest known name."""
    if key in _warned:
        return
    _warned.add(key)
    close = difflib.get_close_matches(key.upper(), known_variables(), n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]}?" if close else " (see `featurestore.config` for the names)"
    logger.warning(
        "environment variable %s is not a featurestore setting and is ignored%s", key, hint
    )


def _overrides(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The settings the environment gives, and which variable gave each (by config location)."""
    out: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    tables: dict[str, dict[str, Any]] = {t: {} for t in _TABLES}
    for key, text in env.items():
        if not key.startswith(_PREFIX):
            continue
        name = key[len(_PREFIX) :].lower()
        table = next((t for t in _TABLES if name.startswith(t + "_")), None)
        field = name[len(table) + 1 :] if table is not None else ""
        if table is not None and field in _TABLES[table].model_fields:
            tables[table][field] = _env_value(text)
            origins[(table, field)] = key
        elif name in _TOP:
            out[name] = text if name != "project" else text.strip()
            origins[(name,)] = key
        elif key not in OTHER_VARIABLES and not key.startswith(_TEST_PREFIX):
            _warn_unknown(key)
    for table, values in tables.items():
        if values:
            out[table] = values
    return out, origins


def _blame(
    file: Path, error: Any, origins: Mapping[tuple[str, ...], str], env: Mapping[str, str]
) -> str:
    """The message of a refused setting, naming the variable that gave it, else the file."""
    location = tuple(str(p) for p in error["loc"])
    where = ".".join(location) or "config"
    for size in range(len(location), 0, -1):
        variable = origins.get(location[:size])
        if variable is not None:
            shown = " ".join(env.get(variable, "").split())[:100]
            return f"environment variable {variable}={shown!r} ({where}): {error['msg']}"
    return f"{file}: {where}: {error['msg']}"


def load_config(repo_path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read ``featurestore.toml`` in ``repo_path`` and apply environment overrides.

    Raises:
        ConfigError: the folder or file is missing, or a value is invalid (the message names it).
    """
    root = Path(repo_path).expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"feature repo {str(root)!r} does not exist or is not a folder")
    file = root / CONFIG_FILE
    if not file.is_file():
        raise ConfigError(
            f"{file} not found: a feature repo needs a {CONFIG_FILE} (create one with `featurestore init`)"
        )
    try:
        data = tomllib.loads(file.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    environ = os.environ if env is None else env
    overrides, origins = _overrides(environ)
    tables = {table: {**data.get(table, {}), **overrides.pop(table, {})} for table in _TABLES}
    data = {**data, **overrides, "repo_path": root}
    data |= {table: values for table, values in tables.items() if values}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_blame(file, exc.errors()[0], origins, environ)) from None
