"""Turn feedback frames into the numeric arrays performance monitoring works on.

Labels and predictions become float arrays with NaN for "missing": for a classification, 0.0 and
1.0 are the negative and positive class, and numeric scores are kept apart; for a regression, the
values themselves. The rules (task detection, classes, scores) are those of
:mod:`featurestore.parity.performance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from featurestore.errors import RequestError
from featurestore.parity.stats import FloatArray

__all__ = ["Encoded", "EncodedReference", "encode_feedback"]

_TEXT = (pl.String, pl.Categorical, pl.Enum)
_REQUIRED = ("timestamp", "prediction", "label")


@dataclass(frozen=True)
class EncodedReference:
    """A reference feedback frame's labels and predicted classes (or values)."""

    label: FloatArray
    prediction: FloatArray


@dataclass(frozen=True)
class Encoded:
    """Feedback sorted by time, as arrays.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        micros: request times, microseconds since the Unix epoch, ascending.
        label: 0/1 classes or values; NaN when unknown.
        prediction: 0/1 predicted classes or values; NaN when missing.
        score: the numeric score behind each predicted class; NaN when there is none.
        score_kind: None (predictions are classes), ``"scores"`` or ``"probabilities"``.
        classes: names of the negative and positive class (empty for a regression).
        notes: what a reader of the report should know about the encoding.
    """

    task: str
    micros: NDArray[np.int64]
    label: FloatArray
    prediction: FloatArray
    score: FloatArray
    score_kind: str | None
    classes: tuple[str, str]
    notes: list[str] = field(default_factory=list)


def encode_feedback(
    feedback: pl.DataFrame,
    reference: pl.DataFrame | None,
    *,
    task: str | None,
    threshold: float,
    positive: str | None,
) -> tuple[Encoded, EncodedReference | None]:
    """Check and encode ``feedback`` (sorted by time) and the optional ``reference`` frame.

    Raises:
        RequestError: a missing column, a bad timestamp, an unknown task, more than two classes,
            or a label/prediction that does not fit the task.
    """
    frames = [_checked(feedback, "feedback")]
    if reference is not None:
        frames.append(_checked(reference, "reference feedback"))
    if task is None:
        task = _detect_task(frames)
    elif task not in ("classification", "regression"):
        raise RequestError(f"Unknown task {task!r}; use 'classification' or 'regression'.")
    frames[0] = frames[0].sort("timestamp", maintain_order=True)
    micros = frames[0]["timestamp"].dt.epoch("us").to_numpy().astype(np.int64)
    if task == "regression":
        labels = [_numbers(f["label"], "label") for f in frames]
        predictions = [_numbers(f["prediction"], "prediction") for f in frames]
        scores, score_kind, classes = [np.full(len(p), np.nan) for p in predictions], None, ("", "")
    else:
        classes = _classes(frames, positive)
        labels = [_label_classes(f["label"], classes) for f in frames]
        predictions, scores, score_kind = _predicted_classes(frames, classes, threshold)
    notes = []
    if score_kind == "scores":
        notes.append("predictions are scores outside [0, 1]: no log-loss")
    encoded = Encoded(
        task=task,
        micros=micros,
        label=labels[0],
        prediction=predictions[0],
        score=scores[0],
        score_kind=score_kind,
        classes=classes,
        notes=notes,
    )
    return encoded, EncodedReference(labels[1], predictions[1]) if reference is not None else None


def _checked(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    if not isinstance(frame, pl.DataFrame):
        raise RequestError(f"The {name} must be a Polars DataFrame, got {type(frame).__name__}.")
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise RequestError(
            f"The {name} frame lacks column {missing[0]!r} (it needs timestamp, prediction, label)."
        )
    timestamps = frame["timestamp"]
    if not isinstance(timestamps.dtype, pl.Datetime):
        raise RequestError(
            f"The {name} column 'timestamp' is {timestamps.dtype}; it must be a Datetime (UTC)."
        )
    if timestamps.null_count():
        raise RequestError(f"The {name} has {timestamps.null_count()} row(s) without a timestamp.")
    return frame.select(_REQUIRED)


def _present(series: pl.Series) -> pl.Series:
    present = series.drop_nulls()
    return present.drop_nans() if present.dtype.is_float() else present


def _column_task(series: pl.Series) -> str | None:
    """The task a label column implies; None when it holds no value."""
    values = _present(series)
    if values.len() == 0:
        return None
    if values.dtype == pl.Boolean or isinstance(values.dtype, _TEXT):
        return "classification"
    if values.dtype.is_integer():
        return "classification" if values.is_in([0, 1]).all() else "regression"
    if values.dtype.is_numeric():
        return "regression"
    raise RequestError(
        f"Feedback column {series.name!r} has dtype {series.dtype}, not a label type."
    )


def _detect_task(frames: list[pl.DataFrame]) -> str:
    tasks = {_column_task(f["label"]) for f in frames} - {None}
    if tasks:
        return "regression" if "regression" in tasks else "classification"
    for frame in frames:
        values = _present(frame["prediction"])
        if values.len() == 0:
            continue
        if values.dtype == pl.Boolean or isinstance(values.dtype, _TEXT):
            return "classification"
        if values.dtype.is_numeric():
            within = bool(((values >= 0) & (values <= 1)).all())
            return "classification" if within else "regression"
    return "classification"


def _classes(frames: list[pl.DataFrame], positive: str | None) -> tuple[str, str]:
    """Names of the negative and positive class."""
    names: set[str] = set()
    texts = [f[c] for f in frames for c in ("label", "prediction") if isinstance(f[c].dtype, _TEXT)]
    for series in texts:
        names.update(series.cast(pl.String).drop_nulls().unique().to_list())
    labels = [f["label"] for f in frames if _present(f["label"]).len()]
    if not names or (labels and not any(isinstance(s.dtype, _TEXT) for s in labels)):
        # bool or 0/1 labels (else bool or numeric predictions) fix the names.
        columns = labels or [f["prediction"] for f in frames]
        return ("false", "true") if any(c.dtype == pl.Boolean for c in columns) else ("0", "1")
    if len(names) > 2:
        shown = ", ".join(sorted(names)[:5])
        raise RequestError(
            f"performance_report handles binary classification; the feedback has "
            f"{len(names)} classes ({shown})."
        )
    if positive is not None and names and positive not in names and len(names) == 2:
        raise RequestError(
            f"Positive class {positive!r} is not one of the classes {sorted(names)}."
        )
    chosen = positive if positive is not None else max(names, default="1")
    others = sorted(names - {chosen})
    return (others[0] if others else f"not {chosen}", chosen)


def _label_classes(series: pl.Series, classes: tuple[str, str]) -> FloatArray:
    if isinstance(series.dtype, _TEXT) or series.dtype == pl.Boolean:
        return _named(series, classes, "label")
    values = _numbers(series, "label")
    bad = values[~np.isnan(values) & (values != 0) & (values != 1)]
    if bad.size:
        raise RequestError(
            f"Label {bad[0]:g} is not a class of a binary classification (use 0/1, bool or str)."
        )
    return values


def _predicted_classes(
    frames: list[pl.DataFrame], classes: tuple[str, str], threshold: float
) -> tuple[list[FloatArray], list[FloatArray], str | None]:
    """Predicted 0/1 classes, the scores behind them (NaN if none), and the score kind."""
    columns = [f["prediction"] for f in frames]
    if any(isinstance(c.dtype, _TEXT) or c.dtype == pl.Boolean for c in columns):
        predicted = [_named(c, classes, "prediction") for c in columns]
        return predicted, [np.full(len(p), np.nan) for p in predicted], None
    values = [_numbers(c, "prediction") for c in columns]
    present = np.concatenate(values)
    present = present[~np.isnan(present)]
    if np.isin(present, (0.0, 1.0)).all():
        return values, [np.full(len(v), np.nan) for v in values], None
    kind = "probabilities" if ((present >= 0) & (present <= 1)).all() else "scores"
    predicted = [np.where(np.isnan(v), np.nan, (v >= threshold).astype(float)) for v in values]
    return predicted, values, kind


def _named(series: pl.Series, classes: tuple[str, str], what: str) -> FloatArray:
    """0/1 for the negative/positive class name; a bool is its own class."""
    if series.dtype == pl.Boolean:
        return series.cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)
    text = series.cast(pl.String)
    unknown = text.drop_nulls().filter(~text.drop_nulls().is_in(list(classes)))
    if unknown.len():
        raise RequestError(
            f"The {what} {unknown[0]!r} is not one of the classes {classes[0]!r}, {classes[1]!r}."
        )
    codes = pl.select(
        pl.when(text.is_null()).then(None).otherwise((text == classes[1]).cast(pl.Float64))
    ).to_series()
    return codes.fill_null(np.nan).to_numpy().astype(np.float64)


def _numbers(series: pl.Series, what: str) -> FloatArray:
    if series.dtype != pl.Null and not series.dtype.is_numeric():
        raise RequestError(
            f"The {what} column is {series.dtype}; this task needs numbers (or pass task=)."
        )
    return series.cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)
