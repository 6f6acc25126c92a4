"""The scale a regime model's regressions live on, and the way back to summed variance.

Every regime forecaster reads a per-day realized variance ``rv`` (daily variance units) and
forecasts the engine's target, ``sum(rv[t+1 .. t+h])``. Its regressions use a transform ``g``:

============  =================  =========================================================
scale         g(v)               per-day mean of the target given the fit ``m``, residual var ``s2``
============  =================  =========================================================
variance      v                  m
volatility    sqrt(v)            m^2 + s2            (E[Y^2] = E[Y]^2 + Var Y)
log           log v              exp(m + s2 / 2)     (log-normal mean)
============  =================  =========================================================

For horizon h the response is ``g(sum(rv[s+1 .. s+h]) / h)`` -- the per-day average of the
target, so coefficients are comparable across horizons -- and the regressors are HAR averages
of ``g(rv)``. The forecast of the sum is ``h`` times the back-transformed mean. The back
transform assumes normal residuals within a regime (exact for the log-normal simulation of
:mod:`volbook.models.regime.simulate`, an approximation on real data).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from volbook.errors import ParameterError

__all__ = ["Scale", "check_scale", "from_scale", "to_scale"]

Scale = Literal["variance", "volatility", "log"]
_SCALES = ("variance", "volatility", "log")


def check_scale(scale: str) -> Scale:
    """``scale`` if it is one of ``variance``, ``volatility``, ``log``; a ParameterError otherwise."""
    if scale not in _SCALES:
        raise ParameterError(f"scale must be one of {_SCALES}, got {scale!r}")
    return scale  # type: ignore[return-value]


def to_scale(v: np.ndarray, scale: Scale) -> np.ndarray:
    """``g(v)`` for a positive variance ``v``."""
    v = np.asarray(v, dtype=float)
    if scale == "variance":
        return v
    if scale == "volatility":
        return np.sqrt(v)
    return np.log(v)


def from_scale(mean: np.ndarray, resid_var: np.ndarray | float, scale: Scale) -> np.ndarray:
    """Mean per-day variance implied by a fitted value ``mean`` and residual variance on ``scale``."""
    m = np.asarray(mean, dtype=float)
    if scale == "variance":
        return m
    if scale == "volatility":
        return m**2 + resid_var
    return np.exp(m + 0.5 * np.asarray(resid_var))
