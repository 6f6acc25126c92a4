"""The published chapter-1 study's conventions, reproduced on purpose to measure their effect.

**Never forecast with these.** They exist so the book can show, side by side with the
correct conventions of :mod:`volbook.timing`, how much each mistake flattered the study:

* :func:`backward_target` — its "realized" variance at horizon h summed r^2 over
  t-h+1 .. t, which is already known at the origin (it looks backward);
* :func:`averaged_vol_forecast` — its "h-step forecast" averaged the last h one-step
  *volatility* forecasts made at origins t-h+1 .. t, which is not an h-step forecast, and
  whose inputs overlap its (backward) target window;
* :func:`rolling_including_scored` — its rolling baseline's window included the very
  return it was scored against (at h = 1);
* :func:`study_losses` — its losses were computed on annualized *volatility*, with QLIKE in
  the log form ``mean(ln f^2 + y^2 / f^2)``.

:func:`undo_mistakes` gives the (target, forecast) pairs with the mistakes removed one at a
time, from the study's setup to the book's, and ``PUBLISHED_*`` hold the study's own tables
(seed ``001``: its metrics table, its backtest table and its robustness table), so that a
chapter can put its reproduction beside them.

The study's rolling window is a standard deviation (mean removed); here, as everywhere in
the book, it is the root mean square: the timing is what these functions reproduce.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from volbook.timing import TRADING_DAYS, forward_variance

__all__ = [
    "MISTAKE_STEPS",
    "PUBLISHED_BACKTEST",
    "PUBLISHED_LOSSES",
    "PUBLISHED_ROBUSTNESS",
    "averaged_vol_forecast",
    "backward_target",
    "rolling_including_scored",
    "score_like_the_study",
    "study_losses",
    "undo_mistakes",
]

#: The study's best model per horizon by its QLIKE, on SPY 2005-2025 (its metrics table; the
#: losses are on annualized volatility, QLIKE in its log form; n_obs is its scored days).
PUBLISHED_LOSSES = pl.DataFrame({
    "horizon": [1, 5, 10],
    "model": ["rolling_20", "garch", "garch"],
    "mae": [0.085833, 0.04123, 0.030895],
    "rmse": [0.117535, 0.056796, 0.042553],
    "mse": [0.013814, 0.003226, 0.001811],
    "qlike": [-3.019828, -3.010602, -2.999493],
    "n_obs": [3973, 3973, 3973],
})

#: The study's backtest table (no trading costs). Its own ``n_obs`` column: 4,973 days of
#: buy and hold against 3,973 days of each targeting strategy.
PUBLISHED_BACKTEST = pl.DataFrame({
    "strategy": ["buy_and_hold", "ewma", "garch"],
    "cagr": [0.105189, 0.142709, 0.139473],
    "vol": [0.191358, 0.157638, 0.150461],
    "sharpe": [0.522668, 0.846255, 0.867771],
    "max_drawdown": [-0.551894, -0.215236, -0.216049],
    "n_obs": [4973, 3973, 3973],
})

#: The study's robustness table: the best model per horizon (by its QLIKE) in each setting.
PUBLISHED_ROBUSTNESS = pl.DataFrame({
    "setting": ["base"] * 3 + ["ewma_lambda_0.97"] * 3 + ["garch_refit_5"] * 3,
    "horizon": [1, 5, 10] * 3,
    "model": ["rolling_20", "garch", "garch"] * 2 + ["rolling_20"] * 3,
    "qlike": [-3.019828, -3.010602, -2.999493] * 2 + [-3.019828, -2.952155, -2.941831],
})

#: The steps of :func:`undo_mistakes`, from the study's setup to the book's.
MISTAKE_STEPS = ("study", "variance_losses", "forward_target", "h_step_forecast", "correct")


def _trailing_windows(x: np.ndarray, h: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    out[h - 1 :] = np.lib.stride_tricks.sliding_window_view(x, h).mean(axis=1)
    return out


def backward_target(returns: np.ndarray, horizon: int) -> np.ndarray:
    """The study's target: ``sum_{j=0..h-1} r_{t-j}^2`` at row t (NaN for the first h-1 rows)."""
    r2 = np.asarray(returns, dtype=float) ** 2
    return horizon * _trailing_windows(r2, horizon)


def averaged_vol_forecast(one_step_variance: np.ndarray, horizon: int) -> np.ndarray:
    """The study's "h-step" variance: ``h * (mean of the last h one-step vol forecasts)^2``.

    ``one_step_variance[t]`` is the one-step forecast made at origin t (for day t+1).
    """
    vol = np.sqrt(np.asarray(one_step_variance, dtype=float))
    return horizon * _trailing_windows(vol, horizon) ** 2


def rolling_including_scored(returns: np.ndarray, window: int) -> np.ndarray:
    """The study's rolling one-step forecast for day t+1: mean of r^2 over t-w+2 .. t+1."""
    r2 = np.asarray(returns, dtype=float) ** 2
    out = np.full(r2.size, np.nan)
    out[:-1] = _trailing_windows(r2, window)[1:]
    return out


def score_like_the_study(
    returns: np.ndarray,
    one_step_variance: np.ndarray,
    horizon: int,
    *,
    rolling_window: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The (target, forecast) pairs the study would have scored at ``horizon``.

    ``one_step_variance[t]`` is a model's correct one-step forecast made at origin t (NaN
    where the model made none); it fixes the rows scored. Row t pairs the backward target
    over t-h+1..t with the average of the one-step volatility forecasts *for* days
    t-h+1..t. With ``rolling_window`` the forecasts are replaced by the study's rolling
    window that includes the scored day.
    """
    def for_day(x: np.ndarray) -> np.ndarray:  # forecast for day t sits at row t-1
        return np.concatenate([[np.nan], np.asarray(x, dtype=float)[:-1]])

    rows = np.isfinite(averaged_vol_forecast(for_day(one_step_variance), horizon))
    source = one_step_variance if rolling_window is None else rolling_including_scored(returns, rolling_window)
    forecast = averaged_vol_forecast(for_day(source), horizon)
    target = backward_target(returns, horizon)
    keep = rows & np.isfinite(forecast) & (target > 0)
    return target[keep], forecast[keep]


def study_losses(target: np.ndarray, forecast: np.ndarray, horizon: int) -> dict[str, float]:
    """The study's losses: on annualized volatility, QLIKE in the log form.

    ``target`` and ``forecast`` are variances summed over ``horizon`` days; both become
    annualized volatilities ``y = sqrt(252 RV / h)`` and ``f``, and the losses are
    ``qlike = mean(ln f^2 + y^2 / f^2)``, ``mae = mean(|y - f|)``, ``mse``, ``rmse``. The log
    form differs from the normalized QLIKE on variance by a term that depends on ``y`` only:
    it ranks forecasts the same, with the same gaps, but its level is not comparable.
    """
    y = np.sqrt(TRADING_DAYS * np.asarray(target, dtype=float) / horizon)
    f = np.sqrt(TRADING_DAYS * np.asarray(forecast, dtype=float) / horizon)
    mse = float(np.mean((y - f) ** 2))
    return {
        "qlike": float(np.mean(np.log(f**2) + y**2 / f**2)),
        "mae": float(np.mean(np.abs(y - f))),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
    }


def undo_mistakes(
    returns: np.ndarray,
    one_step_variance: np.ndarray,
    h_step_variance: np.ndarray,
    horizon: int,
    *,
    rolling_window: int | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(target, forecast) pairs of one model with the study's mistakes removed one at a time.

    Parameters
    ----------
    returns
        Daily log returns, one per row.
    one_step_variance, h_step_variance
        The model's correct forecasts made at origin t (row t): of the next day's variance,
        and of the variance summed over t+1..t+h; NaN where the model made none.
    horizon
        h.
    rolling_window
        For a rolling-window model, its window: its forecasts with mistake 3 are rebuilt
        from a window that includes the scored day.

    Returns
    -------
    dict
        One entry per :data:`MISTAKE_STEPS`, each undoing one more mistake:

        ``study``
            all four mistakes (score with :func:`study_losses`);
        ``variance_losses``
            the same pairs, scored on variance (mistake 4 undone);
        ``forward_target``
            the target is the variance over t+1..t+h; the forecast is still the average of
            the last h one-step volatility forecasts known at t (mistake 1 undone);
        ``h_step_forecast``
            the forecast is the model's h-step forecast made at t (mistake 2 undone; for the
            rolling window, h times the window that includes day t+1);
        ``correct``
            the rolling window ends at t (mistake 3 undone): the book's clock.
    """
    r = np.asarray(returns, dtype=float)
    one = np.asarray(one_step_variance, dtype=float)
    h_step = np.asarray(h_step_variance, dtype=float)
    leaky = one if rolling_window is None else rolling_including_scored(r, rolling_window)
    leaky = np.where(np.isfinite(one), leaky, np.nan)  # the model's own origins only
    y_forward = forward_variance(r, horizon)

    def pairs(y: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = np.isfinite(f) & np.isfinite(y) & (y > 0) & np.isfinite(h_step)
        return y[keep], f[keep]

    study = score_like_the_study(r, one, horizon, rolling_window=rolling_window)
    return {
        "study": study,
        "variance_losses": study,
        "forward_target": pairs(y_forward, averaged_vol_forecast(leaky, horizon)),
        "h_step_forecast": pairs(y_forward, horizon * leaky if rolling_window is not None else h_step),
        "correct": pairs(y_forward, h_step),
    }
