"""Distribution drift of features between a reference and a current frame (DESIGN.md §9, §12).

Pure functions over Polars frames; the statistics are SciPy's definitions, computed on vectorised
NumPy paths so a million rows per side take a fraction of a second per feature.

Rules, per feature:

* **Kind.** Integer, float and decimal columns are ``"numeric"``; boolean, string, categorical and
  enum columns are ``"categorical"`` (a boolean is a category, not a 0/1 number). A column of
  dtype ``Null`` takes the kind of the other side. Any other dtype is a :class:`RequestError`.
* **Missing values.** Nulls (and NaN in float columns) are dropped before any statistic;
  ``null_rate_*`` is (nulls + NaN) / all rows, ``None`` for a frame without rows. ``n_*`` counts the
  values left. Infinite values are kept as values.
* **Numeric.** PSI over 10 bins whose inner edges are
  ``np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])`` with duplicates removed; a
  value falls in bin ``np.searchsorted(edges, x, side="right")``; the outer bins are open. Each
  side's zero proportions become 1e-4 and ``PSI = sum((c - r) * ln(c / r))``. The Jensen-Shannon
  distance is ``jensenshannon(r, c, base=2)`` over the same bins, unsmoothed. KS is
  ``ks_2samp(ref, cur)``; Wasserstein is ``wasserstein_distance(ref, cur) / max(np.std(ref),
  0.001)``. A constant reference is still meaningful: its bins collapse to "below" and "at or
  above" the value, KS is exact, and Wasserstein is scaled by the 0.001 floor (a note says so).
* **Categorical.** Proportions over the union of both sides' categories give PSI (same
  smoothing, so a category seen on one side only is fine) and JS; chi-square is
  ``chi2_contingency`` (defaults) on the 2 x k table of counts. With a single category on both
  sides chi-square is undefined and ``None``.
* **Lack of data.** When either side has no values left, every statistic is ``None``. When either
  side has fewer than ``min_samples`` values (default 100) the figures are still given but
  ``insufficient_data`` is true and the feature is never flagged nor warned about: a PSI over two
  or three reference rows says nothing.
* **Histogram.** ``histogram`` holds what PSI compared, for charts: the numeric bins' inner
  ``edges`` with each side's unsmoothed proportions, or the categories with theirs (the 50 most
  frequent when there are more).
* **Flags.** ``psi > psi``, ``js > js``, ``ks_pvalue < ks_pvalue``, ``chi2_pvalue < chi2_pvalue``
  (names in that order); ``psi_warn < psi <= psi`` adds the warning ``"psi"``. A statistic that is
  ``None`` never flags, and a statistic SciPy would give as NaN or infinity is reported as ``None``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from featurestore.errors import ConfigError, NotFoundError, RequestError
from featurestore.parity.stats import (
    FloatArray,
    bin_counts,
    chi2_test,
    decile_edges,
    finite,
    jensen_shannon,
    ks_and_wasserstein,
    psi,
    text_table,
)
from featurestore.reports import html_repr

__all__ = ["DriftReport", "DriftThresholds", "FeatureDrift", "drift_report", "feature_drift"]

_MAX_WORKERS = 4
_PARALLEL_MIN_ROWS = 200_000
_STD_FLOOR = 0.001
_MAX_CATEGORIES = 50
_CATEGORICAL = (pl.Boolean, pl.String, pl.Categorical, pl.Enum)


@dataclass(frozen=True)
class DriftThresholds:
    """Where a drift statistic starts to flag (DESIGN.md §9 defaults).

    Attributes:
        psi: PSI above this flags ``"psi"``.
        psi_warn: PSI above this (but not above ``psi``) adds the warning ``"psi"``.
        ks_pvalue: a KS p-value below this flags ``"ks"``.
        js: a Jensen-Shannon distance above this flags ``"js"``.
        chi2_pvalue: a chi-square p-value below this flags ``"chi2"``.
        min_samples: fewer non-null values than this on either side mark the feature
            ``insufficient_data``, which never flags.
    """

    psi: float = 0.25
    psi_warn: float = 0.1
    ks_pvalue: float = 0.05
    js: float = 0.1
    chi2_pvalue: float = 0.05
    min_samples: int = 100

    def __post_init__(self) -> None:
        for name in ("psi", "psi_warn", "ks_pvalue", "js", "chi2_pvalue"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise ConfigError(f"Drift threshold {name} must be a number >= 0, got {value!r}.")
        for name in ("ks_pvalue", "chi2_pvalue"):
            if getattr(self, name) > 1:
                raise ConfigError(f"Drift threshold {name} is a p-value and must be <= 1.")
        if isinstance(self.min_samples, bool) or not isinstance(self.min_samples, int):
            raise ConfigError(f"min_samples must be an integer, got {self.min_samples!r}.")
        if self.min_samples < 1:
            raise ConfigError(f"min_samples must be at least 1, got {self.min_samples}.")
        if self.psi_warn > self.psi:
            raise ConfigError(
                f"Drift threshold psi_warn ({self.psi_warn}) must not exceed psi ({self.psi})."
            )


@dataclass(frozen=True)
class FeatureDrift:
    """Drift statistics of one feature; ``None`` marks a statistic that does not apply."""

    feature: str
    kind: str  # "numeric" | "categorical"
    n_reference: int
    n_current: int
    null_rate_reference: float | None
    null_rate_current: float | None
    psi: float | None = None
    js: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    wasserstein: float | None = None
    chi2_statistic: float | None = None
    chi2_pvalue: float | None = None
    drifted: bool = False
    flags: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    note: str | None = None
    insufficient_data: bool = False
    histogram: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The DESIGN.md §12 keys in order, then ``warnings``, ``note``, ``insufficient_data``
        and ``histogram``."""
        return {
            "feature": self.feature,
            "kind": self.kind,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "null_rate_reference": self.null_rate_reference,
            "null_rate_current": self.null_rate_current,
            "psi": self.psi,
            "js": self.js,
            "ks_statistic": self.ks_statistic,
            "ks_pvalue": self.ks_pvalue,
            "wasserstein": self.wasserstein,
            "chi2_statistic": self.chi2_statistic,
            "chi2_pvalue": self.chi2_pvalue,
            "drifted": self.drifted,
            "flags": list(self.flags),
            "warnings": list(self.warnings),
            "note": self.note,
            "insufficient_data": self.insufficient_data,
            "histogram": self.histogram,
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of several features between two named datasets."""

    reference: str
    current: str
    features: list[FeatureDrift]
    thresholds: DriftThresholds = DriftThresholds()

    _repr_html_ = html_repr("drift")

    @property
    def drifted(self) -> list[str]:
        """Names of the features with at least one flag."""
        return [f.feature for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        """Exactly ``{reference, current, features: [...]}`` (DESIGN.md §12)."""
        return {
            "reference": self.reference,
            "current": self.current,
            "features": [f.to_dict() for f in self.features],
        }

    def __str__(self) -> str:
        columns = ["feature", "kind", "n ref", "n cur", "null ref", "null cur", "psi", "js"]
        columns += ["ks p", "wasserstein", "chi2 p", "flags"]
        rows = [
            [
                *(f.feature, f.kind, f.n_reference, f.n_current),
                *(f.null_rate_reference, f.null_rate_current, f.psi, f.js, f.ks_pvalue),
                *(f.wasserstein, f.chi2_pvalue, _flag_cell(f)),
            ]
            for f in self.features
        ]
        caption = f"{len(self.drifted)} of {len(self.features)} features drifted"
        return text_table(f"drift: {self.reference} -> {self.current}", columns, rows, caption)


def feature_drift(
    name: str,
    reference: pl.Series,
    current: pl.Series,
    thresholds: DriftThresholds = DriftThresholds(),
) -> FeatureDrift:
    """Compare one feature's reference and current values (rules in the module docstring).

    Args:
        name: the feature name reported.
        reference: the reference values (e.g. the training frame's column).
        current: the current values (e.g. served values).
        thresholds: where statistics flag.

    Returns:
        The feature's statistics, flags and warnings.

    Raises:
        RequestError: a dtype drift is not defined for, or numeric on one side only.
    """
    kind = _kind(name, reference.dtype, current.dtype)
    stats: dict[str, float | None] = {}
    notes: list[str] = []
    histogram: dict[str, Any] | None = None
    if kind == "numeric":
        ref, ref_rows = _numeric_values(reference)
        cur, cur_rows = _numeric_values(current)
        n_ref, n_cur = ref.size, cur.size
        if n_ref and n_cur:
            stats, histogram = _numeric_stats(ref, cur, notes)
    else:
        categories, ref_counts, cur_counts = _category_counts(reference, current)
        ref_rows, cur_rows = reference.len(), current.len()
        n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
        if n_ref and n_cur:
            stats = _categorical_stats(ref_counts, cur_counts, notes)
            histogram = _category_histogram(categories, ref_counts, cur_counts)
    for side, n in (("reference", n_ref), ("current", n_cur)):
        if not n:
            notes.append(f"not enough data: the {side} side has no non-null values")
    insufficient = min(n_ref, n_cur) < thresholds.min_samples
    if insufficient and n_ref and n_cur:
        notes.append(
            f"insufficient data: {min(n_ref, n_cur)} values on one side, fewer than "
            f"min_samples={thresholds.min_samples}; not flagged"
        )
    flags, warns = ([], []) if insufficient else _flags(stats, thresholds)
    return FeatureDrift(
        feature=name,
        kind=kind,
        n_reference=n_ref,
        n_current=n_cur,
        null_rate_reference=(ref_rows - n_ref) / ref_rows if ref_rows else None,
        null_rate_current=(cur_rows - n_cur) / cur_rows if cur_rows else None,
        psi=stats.get("psi"),
        js=stats.get("js"),
        ks_statistic=stats.get("ks_statistic"),
        ks_pvalue=stats.get("ks_pvalue"),
        wasserstein=stats.get("wasserstein"),
        chi2_statistic=stats.get("chi2_statistic"),
        chi2_pvalue=stats.get("chi2_pvalue"),
        drifted=bool(flags),
        flags=flags,
        warnings=warns,
        note="; ".join(notes) or None,
        insufficient_data=insufficient,
        histogram=histogram,
    )


def drift_report(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    features: Sequence[str] | None = None,
    reference_name: str,
    current_name: str,
    thresholds: DriftThresholds = DriftThresholds(),
) -> DriftReport:
    """Compare every feature of ``current`` with ``reference``.

    Args:
        reference: the reference frame (e.g. a saved training frame).
        current: the current frame (e.g. the serving log's values).
        features: columns to compare, in this order; ``None`` means every column both frames
            have whose dtype drift is defined for, in the reference's column order.
        reference_name: how the report names the reference.
        current_name: how the report names the current frame.
        thresholds: where statistics flag.

    Returns:
        One :class:`FeatureDrift` per feature.

    Raises:
        NotFoundError: a named feature is not a column of one of the frames.
        RequestError: a named feature has a dtype drift is not defined for.
    """
    if features is None:
        names = [
            c
            for c, dtype in reference.schema.items()
            if c in current.columns and _comparable(dtype, current.schema[c])
        ]
    else:
        names = list(dict.fromkeys(features))
        for frame, label in ((reference, reference_name), (current, current_name)):
            missing = [n for n in names if n not in frame.columns]
            if missing:
                raise NotFoundError(
                    f"Feature {missing[0]!r} is not a column of the {label!r} frame "
                    f"(it has {', '.join(frame.columns) or 'no columns'})."
                )

    def one(name: str) -> FeatureDrift:
        return feature_drift(name, reference[name], current[name], thresholds)

    # NumPy and Polars release the GIL in sorts, searches and array arithmetic, so big frames
    # spread their features over the cores; small ones are not worth a thread.
    workers = min(len(names), os.cpu_count() or 1, _MAX_WORKERS)
    if workers > 1 and reference.height + current.height >= _PARALLEL_MIN_ROWS:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(one, names))
    else:
        results = [one(n) for n in names]
    return DriftReport(reference_name, current_name, results, thresholds)


def _flag_cell(drift: FeatureDrift) -> str:
    if drift.flags:
        return ", ".join(drift.flags)
    return "warn: " + ", ".join(drift.warnings) if drift.warnings else ""


def _dtype_kind(dtype: pl.DataType) -> str | None:
    """ "numeric", "categorical", "" for the Null dtype (no evidence), None when unsupported."""
    if dtype == pl.Null:
        return ""
    if dtype.is_numeric():
        return "numeric"
    if isinstance(dtype, _CATEGORICAL):
        return "categorical"
    return None


def _comparable(reference: pl.DataType, current: pl.DataType) -> bool:
    kinds = {_dtype_kind(reference), _dtype_kind(current)}
    return None not in kinds and len(kinds - {""}) <= 1


def _kind(name: str, reference: pl.DataType, current: pl.DataType) -> str:
    kinds = {_dtype_kind(reference), _dtype_kind(current)}
    if None in kinds:
        bad = reference if _dtype_kind(reference) is None else current
        raise RequestError(
            f"Feature {name!r} has dtype {bad}; drift is defined for numeric, boolean, string "
            "and categorical columns only."
        )
    kinds.discard("")
    if len(kinds) > 1:
        raise RequestError(
            f"Feature {name!r} is {reference} in the reference but {current} in the current "
            "frame; cast one side so both are numeric or both categorical."
        )
    kind = kinds.pop() if kinds else None
    return kind or "categorical"


def _numeric_values(series: pl.Series) -> tuple[FloatArray, int]:
    """The non-null, non-NaN values as float64, and the number of rows."""
    values = series.cast(pl.Float64).to_numpy()
    present = ~np.isnan(values)
    return (values if present.all() else values[present]), series.len()


def _numeric_stats(
    ref: FloatArray, cur: FloatArray, notes: list[str]
) -> tuple[dict[str, float | None], dict[str, Any]]:
    # Infinite values make some statistics inf - inf; those become None, silently.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ref_sorted, cur_sorted = np.sort(ref), np.sort(cur)
        edges = decile_edges(ref_sorted)
        r = bin_counts(ref_sorted, edges) / ref.size
        c = bin_counts(cur_sorted, edges) / cur.size
        ks_statistic, ks_pvalue, wasserstein = ks_and_wasserstein(ref_sorted, cur_sorted)
        std = float(np.std(ref))
        if std == 0:
            notes.append("constant reference: 2 PSI bins, Wasserstein scaled by 0.001")
        stats = {
            "psi": psi(r, c),
            "js": jensen_shannon(r, c),
            "ks_statistic": ks_statistic,
            "ks_pvalue": ks_pvalue,
            "wasserstein": finite(wasserstein / max(std, _STD_FLOOR)),
        }
        histogram = {
            "edges": [finite(e) for e in edges.tolist()],
            "reference": r.tolist(),
            "current": c.tolist(),
        }
        return stats, histogram


def _category_counts(
    reference: pl.Series, current: pl.Series
) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64]]:
    """The categories of both sides, sorted, and each side's count per category."""
    frames = [
        s.cast(pl.String).drop_nulls().value_counts().rename({s.name: "value", "count": side})
        for s, side in ((reference.rename("v"), "ref"), (current.rename("v"), "cur"))
    ]
    table = (
        frames[0].join(frames[1], on="value", how="full", coalesce=True).fill_null(0).sort("value")
    )
    return (
        table["value"].to_list(),
        table["ref"].to_numpy().astype(np.int64),
        table["cur"].to_numpy().astype(np.int64),
    )


def _category_histogram(
    categories: list[str], ref_counts: NDArray[np.int64], cur_counts: NDArray[np.int64]
) -> dict[str, Any]:
    r = ref_counts / ref_counts.sum()
    c = cur_counts / cur_counts.sum()
    keep = np.sort(np.argsort(-(r + c), kind="stable")[:_MAX_CATEGORIES])
    return {
        "categories": [categories[i] for i in keep],
        "reference": r[keep].tolist(),
        "current": c[keep].tolist(),
    }


def _categorical_stats(
    ref_counts: NDArray[np.int64], cur_counts: NDArray[np.int64], notes: list[str]
) -> dict[str, float | None]:
    r = ref_counts / ref_counts.sum()
    c = cur_counts / cur_counts.sum()
    chi2 = chi2_test(np.vstack([ref_counts, cur_counts]))
    if chi2 is None:
        notes.append("chi-square undefined: a single category on both sides")
    return {
        "psi": psi(r, c),
        "js": jensen_shannon(r, c),
        "chi2_statistic": chi2[0] if chi2 else None,
        "chi2_pvalue": chi2[1] if chi2 else None,
    }


def _flags(
    stats: dict[str, float | None], thresholds: DriftThresholds
) -> tuple[list[str], list[str]]:
    def over(key: str, limit: float) -> bool:
        value = stats.get(key)
        return value is not None and value > limit

    def under(key: str, limit: float) -> bool:
        value = stats.get(key)
        return value is not None and value < limit

    flags = [
        name
        for name, hit in (
            ("psi", over("psi", thresholds.psi)),
            ("js", over("js", thresholds.js)),
            ("ks", under("ks_pvalue", thresholds.ks_pvalue)),
            ("chi2", under("chi2_pvalue", thresholds.chi2_pvalue)),
        )
        if hit
    ]
    warns = ["psi"] if "psi" not in flags and over("psi", thresholds.psi_warn) else []
    return flags, warns
