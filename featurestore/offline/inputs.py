"""Turn what users hand us (files, frames, SQL queries) into Polars frames with UTC timestamps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from featurestore.errors import FeatureStoreError, RequestError

__all__ = ["file_columns", "read_file", "read_sql", "to_frame", "utc_column"]


def to_frame(data: Any, what: str = "data") -> pl.DataFrame:
    """A Polars DataFrame from a Polars/pandas/Arrow frame (or a LazyFrame)."""
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pl.from_pandas(data)
    if module == "pyarrow":
        frame = pl.from_arrow(data)
        if isinstance(frame, pl.DataFrame):
            return frame
    if isinstance(data, dict):
        try:
            return pl.DataFrame(data)
        except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            raise RequestError(f"{what}: cannot be read as columns: {exc}") from None
    raise RequestError(
        f"{what} must be a Polars, pandas or Arrow frame or a file path, got {type(data).__name__}"
    )


def read_file(path: str | Path, file_format: str | None = None) -> pl.DataFrame:
    """Read a Parquet file, a folder of Parquet files or a CSV file.

    Raises:
        RequestError: the path does not exist or is not Parquet/CSV.
    """
    path = Path(path)
    if not path.exists():
        raise RequestError(f"source file {str(path)!r} does not exist")
    fmt = file_format
    if path.is_dir():
        fmt = "parquet"
    elif fmt is None:
        suffix = path.suffix.lower()
        fmt = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}.get(suffix)
        if fmt is None:
            raise RequestError(
                f"source file {str(path)!r} is not Parquet or CSV (expected .parquet or .csv)"
            )
    try:
        if fmt == "csv":
            return pl.read_csv(path, try_parse_dates=True)
        if path.is_dir():
            return pl.read_parquet(path / "**" / "*.parquet", hive_partitioning=False)
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise RequestError(f"source file {str(path)!r} cannot be read as {fmt}: {msg}") from None


def read_sql(query: str, url: str) -> pl.DataFrame:
    """Run ``query`` on the database at ``url`` (SQLAlchemy URL, e.g. ``postgresql+psycopg://...``)."""
    import sqlalchemy as sa

    safe = sa.make_url(url).render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(url)
    except Exception as exc:
        raise RequestError(f"cannot connect to {safe}: {exc}") from None
    try:
        with engine.connect() as conn:
            return pl.read_database(sa.text(query), conn)
    except sa.exc.OperationalError as exc:
        raise FeatureStoreError(f"cannot query {safe}: {str(exc.orig).strip()}") from None
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise RequestError(f"query on {safe} failed: {reason}") from None
    finally:
        engine.dispose()


def utc_column(frame: pl.DataFrame, column: str, what: str) -> tuple[pl.Series | None, str | None]:
    """``frame[column]`` as ``Datetime("us", "UTC")``, or an error sentence.

    Timezone-aware datetimes are converted to UTC; ISO strings with an offset are parsed; a naive
    datetime (or a string without offset) is refused, because guessing its zone silently shifts
    every point-in-time join.
    """
    if column not in frame.columns:
        return None, f"{what}: column {column!r} is missing"
    series = frame.get_column(column)
    dtype = series.dtype
    if dtype == pl.String:
        try:
            series = series.str.to_datetime(time_unit="us")
        except pl.exceptions.PolarsError:
            return None, f"{what}: column {column!r} holds strings that are not ISO timestamps"
        dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return None, (
                f"{what}: column {column!r} has naive (timezone-less) timestamps; "
                "make them UTC, e.g. .dt.replace_time_zone('UTC')"
            )
        return series.dt.convert_time_zone("UTC").dt.cast_time_unit("us"), None
    return None, f"{what}: column {column!r} must hold UTC timestamps, not {dtype}"


def file_columns(path: Path, file_format: str = "parquet") -> list[str] | None:
    """The column names of a Parquet/CSV file (or folder of Parquet files) without reading its
    rows; None when it does not exist or cannot be read (the ingestion will say why)."""
    try:
        if path.is_dir():
            files = sorted(path.rglob("*.parquet"))
            return list(pl.read_parquet_schema(files[0])) if files else None
        if not path.is_file():
            return None
        if file_format == "csv":
            return list(pl.scan_csv(path).collect_schema())
        return list(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError):
        return None
