"""XGBoost predicting the regime of the next day from features known today.

Used by the distributional and the coefficient methods, whose training regimes are labels (or
soft weights) of past rows and whose regime at a new origin is unknown. The classifier learns
``Pr(regime of row s = k | features at s)`` from the training rows; soft labels (weights W[s, k]
summing to 1) are learned by the usual device of repeating each row once per regime with label k
and sample weight W[s, k], which makes XGBoost's multi-class log-loss the cross-entropy against
the soft labels. Hard labels are the one-hot special case.

Settings (stated, fixed): 100 trees of depth 3, learning rate 0.1, ``hist`` trees, no row or
column subsampling (so no randomness at all), one thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RegimeClassifier", "fit_regime_classifier"]


@dataclass(frozen=True)
class RegimeClassifier:
    """A fitted regime classifier; ``model`` is None when there is only one regime."""

    model: object | None
    n_regimes: int

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n, K) regime probabilities for rows of ``features``."""
        F = np.atleast_2d(features)
        if self.model is None:
            return np.ones((F.shape[0], 1))
        p = np.asarray(self.model.predict_proba(F), dtype=float)  # XGBoost's are float32
        p = p if p.ndim == 2 else np.column_stack([1 - p, p])
        return p / p.sum(axis=1, keepdims=True)


def fit_regime_classifier(
    features: np.ndarray,
    weights: np.ndarray,
    *,
    n_estimators: int = 100,
    max_depth: int = 3,
    learning_rate: float = 0.1,
    seed: int = 0,
) -> RegimeClassifier:
    """Fit the classifier on training rows (features at s) and their regime weights (n, K)."""
    from xgboost import XGBClassifier

    k = weights.shape[1]
    if k == 1:
        return RegimeClassifier(None, 1)
    rows, labels = np.nonzero(weights > 0)
    model = XGBClassifier(n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
                          tree_method="hist", n_jobs=1, random_state=seed, subsample=1.0, colsample_bytree=1.0)
    model.fit(features[rows], labels, sample_weight=weights[rows, labels])
    return RegimeClassifier(model, k)
