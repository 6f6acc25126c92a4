"""The published chapter-1 study's conventions, reproduced on purpose to measure their effect.

**Never forecast with these.** They exist so the book can show, side by side with the
correct conventions of :mod:`volbook.timing`, how much each mistake flattered the study:

* :func:`backward_target` — its "realized" variance at horizon h summed r^2 over
  t-h+1 .. t, which is already known at the origin (it looks backward);
* :func:`averaged_vol_forecast` — its "h-step forecast" averaged the last h one-step
  *volatility* forecasts made at origins t-h+1 .. t, which is not an h-step forecast, and
  whose inputs overlap its (backward) target window;
* :func:`rolling_including_scored` — its rolling baseline's window included the very
  return it was scored against (at h = 1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["backward_target", "averaged_vol_forecast", "rolling_including_scored", "score_like_the_study"]


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
