"""Features built from history: row t of every feature uses rows up to t only.

A feature is a function of the rows at or before its own row, so a model can compute it on
the :class:`~volbook.history.History` it is given (which ends at the origin) and index it with
the training rows from :meth:`~volbook.history.History.training_rows`. The perturbation test
(``tests/test_no_lookahead.py``) covers features either way: built inside a model, or stored
as columns of the daily frame by a builder registered in ``tests/_frames.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from volbook.errors import ParameterError

__all__ = ["HAR_LAGS", "check_lags", "har_features", "har_feature_names"]

#: Corsi's (2009) daily, weekly and monthly averaging windows, in trading days.
HAR_LAGS = (1, 5, 22)


def check_lags(lags: Sequence[int]) -> tuple[int, ...]:
    """HAR averaging windows as a tuple of distinct, increasing integers >= 1."""
    out = tuple(int(k) for k in lags)
    if not out or out[0] < 1 or any(b <= a for a, b in zip(out, out[1:])):
        raise ParameterError(f"HAR lags must be increasing positive integers, got {list(lags)}")
    return out


def har_features(x: np.ndarray, lags: Sequence[int] = HAR_LAGS) -> np.ndarray:
    """HAR regressors of a daily series: trailing means over each window, ending at row t.

    Parameters
    ----------
    x
        A per-day series x_0 .. x_{n-1} (r^2, a realized measure, its log, VIX ...).
    lags
        Averaging windows L_1 < L_2 < ..., in rows; ``(1, 5, 22)`` gives Corsi's daily,
        weekly and monthly components.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, len(lags))``; element ``[t, k]`` = ``mean(x[t - L_k + 1 : t + 1])``, NaN
        where fewer than L_k rows exist (``t < L_k - 1``). Each mean is taken over its own
        window (no running sums), so it does not depend on rows before the window.
    """
    values = np.asarray(x, dtype=float).ravel()
    ls = check_lags(lags)
    out = np.full((values.size, len(ls)), np.nan)
    for k, lag in enumerate(ls):
        if values.size >= lag:
            out[lag - 1 :, k] = np.lib.stride_tricks.sliding_window_view(values, lag).mean(axis=1)
    return out


def har_feature_names(name: str, lags: Sequence[int] = HAR_LAGS) -> list[str]:
    """Column names of :func:`har_features` of the series ``name``: ``name_1``, ``name_5`` ..."""
    return [f"{name}_{lag}" for lag in check_lags(lags)]
