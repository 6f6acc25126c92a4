"""Rolling-window (historical) variance: the simplest baseline.

At origin t the one-step forecast is the mean of the last ``window`` squared returns
r_{t-w+1} .. r_t — the window ends at t and so never contains the return it is scored
against (the published study's rolling baseline did, at h = 1). With ``demean=True`` the
window's sample mean is removed first (population variance); by default it is not, as
daily means are negligible next to daily volatility. The h-step forecast is h times that.
"""

from __future__ import annotations

import numpy as np

from volbook.errors import ParameterError
from volbook.models.base import Fitted, Forecaster, History, HistoryLike, check_history, register

__all__ = ["RollingWindow"]


class _RollingFit(Fitted):
    def __init__(self, tail: np.ndarray, demean: bool) -> None:
        self.tail = tail
        self.demean = demean
        self.params = {}

    def one_step(self, new: History) -> np.ndarray:
        x = np.concatenate([self.tail, new["ret"]])
        windows = np.lib.stride_tricks.sliding_window_view(x, self.tail.size)
        mean2 = (windows**2).mean(axis=1)
        if not self.demean:
            return mean2
        return np.maximum(mean2 - windows.mean(axis=1) ** 2, 0.0)


class RollingWindow(Forecaster):
    """Historical variance over the last ``window`` days (window ends at the origin)."""

    def __init__(self, window: int = 20, *, demean: bool = False, name: str | None = None) -> None:
        if int(window) < 2:
            raise ParameterError(f"rolling window must be an integer >= 2, got {window}")
        self.window = int(window)
        self.demean = bool(demean)
        self.min_obs = self.window
        self.name = name or f"rolling_{self.window}" + ("_demeaned" if self.demean else "")

    def fit(self, history: HistoryLike, *, start: Fitted | None = None) -> Fitted:
        r = check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)["ret"]
        return _RollingFit(r[-self.window :].copy(), self.demean)


register("rolling_20")(lambda: RollingWindow(20))
register("rolling_60_demeaned")(lambda: RollingWindow(60, demean=True))
