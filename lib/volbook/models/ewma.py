"""Exponentially weighted moving average variance (RiskMetrics).

``s2_{t+1} = lam * s2_t + (1 - lam) * r_t^2``, so the forecast at origin t uses r_t and
earlier. The recursion starts from the mean of the first ``init_obs`` squared returns of the
training window (all at or before the origin); after a few hundred days the start no longer
matters (lam^250 < 2e-7 for lam = 0.94). RiskMetrics has no mean reversion: the h-step
forecast is ``h * s2_{t+1}``.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from volbook.errors import ParameterError
from volbook.models.base import Fitted, Forecaster, History, HistoryLike, check_history, register

__all__ = ["EWMA", "ewma_filter"]


def ewma_filter(returns: np.ndarray, lam: float, s2_first: float) -> np.ndarray:
    """``s2_{i+1}`` for every i, given ``s2_0 = s2_first``: an array as long as ``returns``."""
    x = (1.0 - lam) * np.asarray(returns, dtype=float) ** 2
    out, _ = lfilter([1.0], [1.0, -lam], x, zi=[lam * s2_first])
    return out


class _EWMAFit(Fitted):
    def __init__(self, lam: float, s2_next: float) -> None:
        self.lam = lam
        self.s2_next = s2_next
        self.params = {"lam": lam}

    def one_step(self, new: History) -> np.ndarray:
        later = ewma_filter(new["ret"], self.lam, self.s2_next)
        return np.concatenate([[self.s2_next], later])


class EWMA(Forecaster):
    """RiskMetrics EWMA variance with decay ``lam`` (0 < lam < 1)."""

    def __init__(self, lam: float = 0.94, *, init_obs: int = 30, name: str | None = None) -> None:
        if not 0.0 < float(lam) < 1.0:
            raise ParameterError(f"EWMA lambda must lie strictly between 0 and 1, got {lam}")
        self.lam = float(lam)
        self.init_obs = int(init_obs)
        self.min_obs = self.init_obs
        self.name = name or "ewma"

    def fit(self, history: HistoryLike, *, start: Fitted | None = None) -> Fitted:
        r = check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)["ret"]
        s2 = ewma_filter(r, self.lam, float(np.mean(r[: self.init_obs] ** 2)))
        return _EWMAFit(self.lam, float(s2[-1]))


register("ewma")(lambda: EWMA(0.94))
