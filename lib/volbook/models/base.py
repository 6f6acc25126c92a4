"""The forecaster API shared by every model family.

Modelled on arch (``arch_model(...).fit().forecast(horizon=h)``)::

    fitted = EWMA(lam=0.94).fit(returns[: t + 1])     # data up to origin t only
    fitted.forecast([1, 5, 10])                        # shape (1, 3): RV_{t,h} forecasts
    fitted.forecast([1, 5, 10], returns[t + 1 : t + 6])  # origins t .. t+5, same parameters

A :class:`Forecaster` is a specification (hyper-parameters, no data). ``fit`` estimates it on a
training window that ends at the origin and returns a :class:`Fitted` model holding the
parameters and the filter state at that origin. ``Fitted.forecast`` gives, for the fit's own
origin and for each later origin reached by feeding it new returns one by one, the forecast of
the variance *summed* over t+1..t+h (see :mod:`volbook.timing`). Row j uses the training data
and ``new_returns[:j]`` only, so re-estimating every k days is just "fit, then feed the next
k-1 returns" — which is what :func:`volbook.walkforward.walk_forward` does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from volbook.errors import DataError, ParameterError

__all__ = ["Forecaster", "Fitted", "register", "registered_forecasters", "check_horizons"]


def check_horizons(horizons: Sequence[int]) -> np.ndarray:
    """Horizons as a sorted-as-given integer array; each must be a distinct integer >= 1."""
    hs = np.asarray([int(h) for h in horizons], dtype=int)
    if hs.size == 0 or (hs < 1).any() or np.unique(hs).size != hs.size:
        raise ParameterError(f"horizons must be distinct positive integers, got {list(horizons)}")
    return hs


def _check_returns(returns: np.ndarray, *, min_obs: int, name: str) -> np.ndarray:
    r = np.asarray(returns, dtype=float).ravel()
    if r.size < min_obs:
        raise DataError(f"{name}: needs at least {min_obs} returns to fit, got {r.size}")
    if not np.isfinite(r).all():
        raise DataError(f"{name}: returns contain NaN or inf at position {int(np.argmin(np.isfinite(r)))}")
    return r


class Fitted(ABC):
    """A forecaster estimated on data up to its origin; see the module docstring."""

    #: Estimated parameters (empty for models without any).
    params: dict[str, float]

    @abstractmethod
    def one_step(self, new_returns: np.ndarray) -> np.ndarray:
        """One-step variances s2_{t+1|t} for the fit's origin and each later origin.

        Element j is the forecast made at origin ``t0 + j`` from the training data and
        ``new_returns[:j]``; the result has ``len(new_returns) + 1`` elements.
        """

    def forecast(self, horizons: Sequence[int], new_returns: np.ndarray | None = None) -> np.ndarray:
        """Forecasts of ``RV_{t,h}`` (daily variance summed over t+1..t+h).

        Returns an array of shape ``(len(new_returns) + 1, len(horizons))``. The default
        treats the one-step variance as flat over the horizon (``h * s2_{t+1|t}``), right for
        random-walk-type forecasters; mean-reverting models override :meth:`multi_step`.
        """
        hs = check_horizons(horizons)
        new = np.empty(0) if new_returns is None else np.asarray(new_returns, dtype=float).ravel()
        if not np.isfinite(new).all():
            raise DataError("new returns contain NaN or inf")
        return self.multi_step(self.one_step(new), hs)

    def multi_step(self, s2_next: np.ndarray, horizons: np.ndarray) -> np.ndarray:
        """Turn one-step variances into h-step sums; flat by default."""
        return s2_next[:, None] * horizons[None, :]


class Forecaster(ABC):
    """A volatility model specification: ``fit(returns up to t) -> Fitted``."""

    #: Identifier used in result tables and figures.
    name: str
    #: Fewest training returns :meth:`fit` accepts.
    min_obs: int = 2

    @abstractmethod
    def fit(self, returns: np.ndarray, *, start: Fitted | None = None) -> Fitted:
        """Estimate on ``returns`` (the training window, ending at the origin).

        ``start`` is the previous fit of the same specification, used as a warm start by
        models estimated numerically; models without estimation ignore it.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


_REGISTRY: dict[str, Callable[[], Forecaster]] = {}


def register(name: str) -> Callable[[Callable[[], Forecaster]], Callable[[], Forecaster]]:
    """Register a factory of a forecaster with its default settings under ``name``.

    The perturbation (no look-ahead) test runs over every registered forecaster.
    """

    def deco(factory: Callable[[], Forecaster]) -> Callable[[], Forecaster]:
        if name in _REGISTRY:
            raise ValueError(f"forecaster {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return deco


def registered_forecasters() -> dict[str, Forecaster]:
    """A fresh instance of every registered forecaster, by registry name."""
    return {name: factory() for name, factory in sorted(_REGISTRY.items())}
