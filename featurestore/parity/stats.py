"""The statistic kernels behind drift and performance reports: SciPy's definitions, vectorised.

Each takes NumPy arrays (sorted where the name says so) and returns plain floats, ``None`` where
SciPy would give NaN or infinity, so reports never carry a NaN.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Sequence
from io import StringIO
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DECILES",
    "bin_counts",
    "chi2_test",
    "classification_metrics",
    "decile_edges",
    "finite",
    "jensen_shannon",
    "ks_and_wasserstein",
    "psi",
    "regression_metrics",
    "text_table",
]

FloatArray = NDArray[np.float64]

DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
_SMOOTHING = 1e-4
# ks_2samp's own MAX_AUTO_N: up to it SciPy uses the exact distribution (and rounds the statistic
# to a multiple of 1/lcm(n1, n2)), so small samples go through SciPy itself.
_EXACT_KS_MAX_N = 10_000
# warnings.catch_warnings is process-global; serialise the one SciPy call that may warn.
_SCIPY_WARNINGS = threading.Lock()


def decile_edges(sorted_values: FloatArray) -> FloatArray:
    """Inner bin edges: the reference deciles with duplicates removed (sorted input)."""
    return np.unique(np.quantile(sorted_values, DECILES))


def bin_counts(sorted_values: FloatArray, edges: FloatArray) -> NDArray[np.int64]:
    """Counts per bin ``np.searchsorted(edges, x, side="right")``, from sorted values.

    Bin ``k`` holds ``edges[k-1] <= x < edges[k]``, so the counts are differences of how many
    values lie below each edge: one binary search per edge instead of one per value.
    """
    below = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.concatenate(([0], below, [sorted_values.size]))).astype(np.int64)


def chi2_test(table: NDArray[np.int64]) -> tuple[float, float] | None:
    """``chi2_contingency`` (defaults) on a 2 x k count table; None where it is undefined.

    Columns empty on both rows are dropped first (their expected counts would be zero); with
    fewer than two columns left, or an empty row, there is nothing to test.
    """
    from scipy.stats import chi2_contingency

    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return None
    result = chi2_contingency(table)
    stat, pvalue = finite(result.statistic), finite(result.pvalue)
    return None if stat is None or pvalue is None else (stat, pvalue)


def psi(reference: FloatArray, current: FloatArray) -> float | None:
    """PSI of two proportion vectors, each side's zeros replaced by 1e-4."""
    r = np.where(reference == 0, _SMOOTHING, reference)
    c = np.where(current == 0, _SMOOTHING, current)
    return finite(np.sum((c - r) * np.log(c / r)))


def classification_metrics(
    y: FloatArray, predicted: FloatArray, scores: FloatArray | None, *, probabilities: bool
) -> dict[str, float | None]:
    """Binary metrics over 0/1 labels and predicted classes; None where a ratio has no denominator.

    ROC AUC needs scores and both classes: the Mann-Whitney U of the positives' average ranks,
    which counts a tied positive/negative pair as half. Log-loss needs probabilities, clipped to
    [1e-15, 1 - 1e-15].
    """
    from scipy.stats import rankdata

    n = y.size
    tp = int(((y == 1) & (predicted == 1)).sum())
    fp = int(((y == 0) & (predicted == 1)).sum())
    fn = int(((y == 1) & (predicted == 0)).sum())
    n_pos = int((y == 1).sum())
    roc_auc = log_loss = None
    if scores is not None and 0 < n_pos < n:
        ranks = rankdata(scores)
        u = float(ranks[y == 1].sum()) - n_pos * (n_pos + 1) / 2
        roc_auc = u / (n_pos * (n - n_pos))
    if scores is not None and probabilities and n:
        p = np.clip(scores, 1e-15, 1 - 1e-15)
        log_loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return {
        "accuracy": float((y == predicted).mean()) if n else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        "roc_auc": roc_auc,
        "log_loss": log_loss,
    }


def regression_metrics(y: FloatArray, predicted: FloatArray) -> dict[str, float | None]:
    """MAE and RMSE; None without rows."""
    if not y.size:
        return {"mae": None, "rmse": None}
    errors = predicted - y
    return {
        "mae": finite(np.mean(np.abs(errors))),
        "rmse": finite(np.sqrt(np.mean(errors**2))),
    }


def text_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = ""
) -> str:
    """Render rows as a plain-text table (numbers to 4 significant digits, None as "-")."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption=caption or None)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    out = StringIO()
    Console(file=out, width=200, color_system=None, force_terminal=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip().splitlines())


def ks_and_wasserstein(
    ref_sorted: FloatArray, cur_sorted: FloatArray
) -> tuple[float | None, float | None, float]:
    """KS statistic and p-value (``ks_2samp``) and the raw Wasserstein distance.

    Both come from one merge of the sorted samples, as SciPy computes them: the ECDF differences at
    every merged point (scaled by ``n1 * n2`` to stay exact integers), weighted by the gaps for
    Wasserstein, maximised for KS. Within a run of equal values only the last point holds the true
    ECDFs; there the gap to the next value is > 0, and the gap weight is 0 elsewhere, so the running
    counts need no tie handling.
    """
    from scipy.stats import kstwo

    n1, n2 = ref_sorted.size, cur_sorted.size
    total = n1 + n2
    positions = np.searchsorted(ref_sorted, cur_sorted, side="right")
    positions += np.arange(n2)
    from_cur = np.zeros(total, dtype=bool)
    from_cur[positions] = True
    merged = np.empty(total)
    merged[positions] = cur_sorted
    merged[~from_cur] = ref_sorted
    # n1 * n2 * (F_ref - F_cur) at each merged point but the last, in exact integers: a running
    # sum stepping up by n2 at each reference value and down by n1 at each current value.
    steps = np.full(total, n2, dtype=np.int64)
    steps[positions] = -n1
    scaled = np.cumsum(steps[:-1])
    abs_diffs = np.abs(scaled, out=scaled).astype(np.float64)
    gaps = np.diff(merged)
    wasserstein = float(np.dot(abs_diffs, gaps)) / n1 / n2
    if max(n1, n2) <= _EXACT_KS_MAX_N:
        return (*_scipy_ks(ref_sorted, cur_sorted), wasserstein)
    steps_at = gaps > 0
    peak = abs_diffs.max() if steps_at.all() else np.max(abs_diffs[steps_at], initial=0.0)
    statistic = float(peak) / n1 / n2
    # ks_2samp's asymptotic branch, verbatim.
    m, n = sorted([float(n1), float(n2)], reverse=True)
    pvalue = float(np.clip(kstwo.sf(statistic, np.round(m * n / (m + n))), 0, 1))
    return finite(statistic), finite(pvalue), wasserstein


def _scipy_ks(ref: FloatArray, cur: FloatArray) -> tuple[float | None, float | None]:
    from scipy.stats import ks_2samp

    # SciPy warns when its exact method falls back to the asymptotic one; the value is still
    # SciPy's answer, so the warning is noise here.
    with _SCIPY_WARNINGS, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = ks_2samp(ref, cur)
    return finite(result.statistic), finite(result.pvalue)


def jensen_shannon(reference: FloatArray, current: FloatArray) -> float | None:
    from scipy.spatial.distance import jensenshannon

    with np.errstate(invalid="ignore"):
        value = float(jensenshannon(reference, current, base=2))
    # sqrt of a divergence that rounding made a hair below zero: the distributions are equal.
    return 0.0 if np.isnan(value) else finite(value)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is NaN or infinite."""
    number = float(value)
    return number if np.isfinite(number) else None
