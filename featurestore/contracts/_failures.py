"""Read Pandera's lazy failure cases: row-level vs schema-level, per-check summaries, row reasons.

``SchemaErrors.failure_cases`` is a Polars frame with one row per failure: ``failure_case`` (the
value as text), ``column``, ``check`` and ``index`` (the row in the batch). A failure with an
index is about one row; one without (a missing column, a wrong dtype, a frame-wide check that
returned a single boolean) is about the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = ["REASONS", "REASONS_DTYPE", "ROW", "Failures", "Violation", "read_failures"]

ROW = "__row"
REASONS = "__reasons"
REASON_DTYPE = pl.Struct({"column": pl.String, "check": pl.String, "value": pl.String})
REASONS_DTYPE = pl.List(REASON_DTYPE)
MAX_EXAMPLES = 5
_MAX_TEXT = 200
_MESSAGE_PARTS = 3


@dataclass(frozen=True)
class Violation:
    """The failures of one check on one column in a batch.

    Attributes:
        column: the column checked; None for a frame-wide check.
        check: Pandera's name for the check, with its arguments (``greater_than_or_equal_to(0)``,
            ``not_nullable``, ``column_in_dataframe``, ``dtype('Int64')``, ...).
        failures: how many failure cases (for a row-level check: failing rows).
        examples: up to five distinct failing values, in row order; typed values from the batch
            (after coercion) for row-level column checks, Pandera's text otherwise.
    """

    column: str | None
    check: str
    failures: int
    examples: list[Any]

    def to_dict(self) -> dict[str, Any]:
        """This violation as JSON-ready data (dates as ISO text, NaN and infinities as text)."""
        return {
            "column": self.column,
            "check": self.check,
            "failures": self.failures,
            "examples": [_json_ready(value) for value in self.examples],
        }


@dataclass(frozen=True)
class Failures:
    """Pandera's failure cases for one batch, sorted into what the caller needs.

    Attributes:
        violations: per (column, check), in Pandera's order.
        row_cases: the row-level failures: ``__row`` (Int64), ``column``, ``check``, ``value``,
            sorted by row (Pandera's order within a row).
        batch_cases: the batch-level failures: ``column``, ``check``, ``value``.
        schema_error: one sentence describing the batch-level failures, or None.
    """

    violations: list[Violation]
    row_cases: pl.DataFrame
    batch_cases: pl.DataFrame
    schema_error: str | None

    def failing_rows(self) -> np.ndarray:
        """The sorted, distinct positions of the rows that failed a row-level check."""
        return np.unique(self.row_cases.get_column(ROW).to_numpy())

    def reasons(self, rows: np.ndarray, height: int) -> pl.Series:
        """The ``__reasons`` list of each of ``rows``, sorted positions in a batch of ``height``.

        Under a schema error every row's list starts with the batch-level failures, so each
        quarantined row says why it is there.
        """
        cases = self.row_cases
        if self.schema_error is not None:
            everyone = pl.DataFrame({ROW: rows.astype(np.int64)})
            cases = pl.concat([everyone.join(self.batch_cases, how="cross"), cases]).sort(
                ROW, maintain_order=True
            )
        counts = np.bincount(cases.get_column(ROW).to_numpy(), minlength=height)[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        values = cases.select(pl.struct("column", "check", "value")).to_series().rechunk()
        # Polars has no list-from-offsets constructor; Arrow builds it without a per-row loop.
        lists = pa.LargeListArray.from_arrays(pa.array(offsets), values.to_arrow())
        return pl.Series(REASONS, lists).cast(REASONS_DTYPE)


def read_failures(cases: pl.DataFrame, data: pl.DataFrame | None, contract: str) -> Failures:
    """Sort Pandera's failure cases into violations, per-row reasons and a schema error.

    Args:
        cases: ``SchemaErrors.failure_cases``.
        data: the frame Pandera checked (``SchemaErrors.data``, coerced), for typed examples.
        contract: the contract's name, for the schema error message.

    Returns:
        The sorted failures.
    """
    cases = _drop_consequences(
        cases.select(
            pl.col("index").cast(pl.Int64).alias(ROW),
            _column_of(cases),
            pl.col("check"),
            pl.col("failure_case").cast(pl.String).alias("value"),
        )
    )
    at_row = pl.col(ROW).is_not_null()
    batch = cases.filter(~at_row).drop(ROW)
    return Failures(
        violations=_violations(cases, data),
        row_cases=cases.filter(at_row).sort(ROW, maintain_order=True),
        batch_cases=batch,
        schema_error=_schema_message(batch, contract) if len(batch) else None,
    )


def _column_of(cases: pl.DataFrame) -> pl.Expr:
    """The column a failure is about.

    For a frame-level failure Pandera's ``column`` holds the schema's name: the column is then the
    failure value when the check is about a column's presence, and None otherwise.
    """
    frame_level = pl.col("schema_context") == "DataFrameSchema"
    presence = pl.col("check").is_in(["column_in_dataframe", "column_in_schema"])
    if "schema_context" not in cases.columns:  # pragma: no cover - older Pandera
        return pl.col("column")
    return (
        pl.when(frame_level & presence)
        .then(pl.col("failure_case"))
        .when(frame_level)
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("column"))
        .alias("column")
    )


def _drop_consequences(cases: pl.DataFrame) -> pl.DataFrame:
    """Drop batch-level check errors on a column whose dtype already failed.

    Once a column has the wrong dtype, Pandera still runs its checks and reports the Polars
    error each one raised ("cannot compare string with numeric type"): noise next to the real
    cause, which the dtype failure names.
    """
    wrong_dtype = cases.filter(pl.col("check").str.starts_with("dtype(")).get_column("column")
    consequence = (
        pl.col(ROW).is_null()
        & pl.col("column").is_in(wrong_dtype.implode())
        & ~pl.col("check").str.starts_with("dtype(")
    )
    return cases.filter(~consequence.fill_null(False))


def _violations(cases: pl.DataFrame, data: pl.DataFrame | None) -> list[Violation]:
    """One Violation per (column, check), in order of first appearance."""
    groups = cases.group_by("column", "check", maintain_order=True).agg(
        pl.len().alias("failures"),
        pl.col(ROW).sort().alias("rows"),
        pl.col("value").sort_by(ROW).unique(maintain_order=True).head(MAX_EXAMPLES),
    )
    violations = []
    for column, check, failures, rows, texts in groups.iter_rows():
        examples: list[Any] = [_shorten(text) for text in texts]
        if data is not None and column in data.columns and rows and rows[0] is not None:
            # Typed values say more than Pandera's text ("-2.0" could be a str or a float).
            failing = data.get_column(column).gather(rows)
            examples = failing.unique(maintain_order=True).head(MAX_EXAMPLES).to_list()
        violations.append(Violation(column, check, int(failures), examples))
    return violations


def _schema_message(batch: pl.DataFrame, contract: str) -> str:
    """One sentence naming the batch-level failures."""
    parts = [_describe(*row) for row in batch.select("column", "check", "value").iter_rows()]
    parts = list(dict.fromkeys(parts))
    shown = "; ".join(parts[:_MESSAGE_PARTS])
    more = len(parts) - _MESSAGE_PARTS
    if more > 0:
        shown += f"; and {more} more problem{'s' if more > 1 else ''}"
    return f"Contract {contract} rejects the whole batch: {shown}."


def _describe(column: str | None, check: str, value: str | None) -> str:
    """A short phrase for one batch-level failure."""
    if check == "column_in_dataframe":
        return f"column {value!r} is missing"
    if check == "column_in_schema":
        return f"column {value!r} is not in the contract (it is strict)"
    if check.startswith("dtype(") and column is not None:
        expected = check[len("dtype(") : -1].strip("'\"")
        return f"column {column!r} has type {value}, expected {expected}"
    where = "the frame" if column is None else f"column {column!r}"
    return f"check {check} failed on {where} ({_shorten(value)})"


def _shorten(text: str | None) -> str | None:
    """The first line of ``text``, cut to a readable length."""
    if text is None:
        return None
    first = text.splitlines()[0] if text else text
    return first if len(first) <= _MAX_TEXT else first[: _MAX_TEXT - 3] + "..."


def _json_ready(value: Any) -> Any:
    """``value`` as something ``json.dumps`` writes as standard JSON."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return str(value)
