"""A small logistic regression in NumPy: the stand-in model the fraud and loans examples score with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["LogisticModel"]


@dataclass(frozen=True)
class LogisticModel:
    """Logistic regression on standardized columns, fitted by Newton's method with a small ridge.

    Attributes:
        columns: the input columns, in order.
        mean: each column's training mean.
        scale: each column's training standard deviation (1 where constant).
        weights: the intercept, then one weight per column.
    """

    columns: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    @classmethod
    def fit(
        cls, frame: pl.DataFrame, columns: list[str], label: str, ridge: float = 1e-3
    ) -> LogisticModel:
        """Fit on ``frame[columns]`` (nulls read as 0) against the 0/1 column ``label``."""
        x = frame.select(columns).fill_null(0).to_numpy().astype(float)
        y = frame.get_column(label).to_numpy().astype(float)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        design = np.column_stack([np.ones(len(x)), (x - mean) / scale])
        weights = np.zeros(design.shape[1])
        for _ in range(50):
            p = 1.0 / (1.0 + np.exp(-design @ weights))
            gradient = design.T @ (y - p) - ridge * weights
            hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge * np.eye(len(weights))
            step = np.linalg.solve(hessian, gradient)
            weights += step
            if np.abs(step).max() < 1e-8:
                break
        return cls(tuple(columns), mean, scale, weights)

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """The probability of the positive class for each row."""
        x = frame.select(self.columns).fill_null(0).to_numpy().astype(float)
        z = self.weights[0] + ((x - self.mean) / self.scale) @ self.weights[1:]
        return np.asarray(1.0 / (1.0 + np.exp(-z)))
