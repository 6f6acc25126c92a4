"""The forecaster API shared by every model family.

Modelled on arch (``arch_model(...).fit().forecast(horizon=h)``)::

    fitted = EWMA(lam=0.94).fit(returns[: t + 1])     # data up to origin t only
    fitted.forecast([1, 5, 10])                        # shape (1, 3): RV_{t,h} forecasts
    fitted.forecast([1, 5, 10], returns[t + 1 : t + 6])  # origins t .. t+5, same parameters

A :class:`Forecaster` is a specification (hyper-parameters, no data) that declares the
columns of the daily frame it reads (``inputs``, default ``("ret",)``). ``fit`` estimates it
on a :class:`~volbook.history.History` (a training window that ends at the origin; a plain
array of returns is accepted and becomes ``History({"ret": array})``) and returns a
:class:`Fitted` model holding the parameters and the filter state at that origin.
``Fitted.forecast`` gives, for the fit's own origin and for each later origin reached by
feeding it the following rows one by one, the forecast of the per-day proxy (r^2 for return
models, the realized measure for models of one) *summed* over t+1..t+h (see
:mod:`volbook.timing`). Row j uses the training data and ``new[:j]`` only, so re-estimating
every k days is just "fit, then feed the next k-1 rows" — which is what
:func:`volbook.walkforward.walk_forward` does. Regression targets come only from
:meth:`History.training_rows <volbook.history.History.training_rows>`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from volbook.errors import DataError, ParameterError
from volbook.history import History, as_history

__all__ = [
    "Forecaster",
    "Fitted",
    "History",
    "register",
    "registered_forecasters",
    "check_horizons",
    "check_history",
]

#: What ``fit`` and ``forecast`` accept: a History, a polars frame, or a 1-D array of returns.
HistoryLike = History | pl.DataFrame | np.ndarray | pl.Series


def check_horizons(horizons: Sequence[int]) -> np.ndarray:
    """Horizons as a sorted-as-given integer array; each must be a distinct integer >= 1."""
    hs = np.asarray([int(h) for h in horizons], dtype=int)
    if hs.size == 0 or (hs < 1).any() or np.unique(hs).size != hs.size:
        raise ParameterError(f"horizons must be distinct positive integers, got {list(horizons)}")
    return hs


def check_history(
    data: HistoryLike | None, inputs: Sequence[str] | None, *, name: str, min_obs: int = 0, targets: bool = True
) -> History:
    """``data`` as a :class:`History` holding the columns ``inputs`` (None: the ones it has),
    finite, with at least ``min_obs`` rows.

    Raises a one-line :class:`~volbook.errors.DataError` naming the model, the column and the
    first bad row otherwise.
    """
    hist = as_history(data, targets=targets)
    if len(hist) < min_obs:
        raise DataError(f"{name}: needs at least {min_obs} rows to fit, got {len(hist)}")
    for col in hist.columns if inputs is None else inputs:
        if col not in hist.columns:
            raise DataError(f"{name}: reads the column {col!r}, which the data lacks (it has {list(hist.columns)})")
        values = hist[col]
        bad = ~np.isfinite(values)
        if bad.any():
            where = int(np.argmax(bad))
            what = "returns contain" if col == "ret" else f"column {col!r} contains"
            raise DataError(f"{name}: {what} NaN or inf at position {where} ({hist.dates[where]})")
    return hist


class Fitted(ABC):
    """A forecaster estimated on data up to its origin; see the module docstring."""

    #: Estimated parameters (empty for models without any).
    params: dict[str, float]

    @abstractmethod
    def one_step(self, new: History) -> np.ndarray:
        """One-step forecasts s2_{t+1|t} for the fit's origin and each later origin.

        Element j is the forecast made at origin ``t0 + j`` from the training data and
        ``new[:j]``; the result has ``len(new) + 1`` elements.
        """

    def forecast(self, horizons: Sequence[int], new: HistoryLike | None = None) -> np.ndarray:
        """Forecasts of the proxy summed over t+1..t+h (``RV_{t,h}`` for return models).

        Parameters
        ----------
        horizons
            Distinct horizons h >= 1.
        new
            Rows after the fit's origin (a History, a frame, or an array of returns), fed
            to the filter one by one; ``None`` for the fit's origin only.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(new) + 1, len(horizons))``; row j is the forecast at origin
            ``t0 + j``, made from the training data and ``new[:j]`` only. The default treats
            the one-step forecast as flat over the horizon (``h * s2_{t+1|t}``), right for
            random-walk-type forecasters; mean-reverting models override
            :meth:`multi_step`, direct h-step models override this method.
        """
        hs = check_horizons(horizons)
        rows = check_history(new, None, name="new rows", targets=False)
        return self.multi_step(self.one_step(rows), hs)

    def multi_step(self, s2_next: np.ndarray, horizons: np.ndarray) -> np.ndarray:
        """Turn one-step forecasts into h-step sums; flat by default."""
        return s2_next[:, None] * horizons[None, :]

    def states(self, new: History) -> dict[str, np.ndarray]:
        """Named per-origin states (a gate alpha_t, filtered regime probabilities ...).

        Each array has ``len(new) + 1`` elements; element j is the state at origin ``t0 + j``
        from the training data and ``new[:j]`` only, like :meth:`one_step`. Collected by
        ``walk_forward(..., states=True)``; models without states return ``{}``.
        """
        return {}


class Forecaster(ABC):
    """A volatility model specification: ``fit(history up to t) -> Fitted``."""

    #: Identifier used in result tables and figures.
    name: str
    #: Fewest training rows :meth:`fit` accepts.
    min_obs: int = 2
    #: Columns of the daily frame the model reads (the engine hands it only these).
    inputs: tuple[str, ...] = ("ret",)

    @abstractmethod
    def fit(self, history: HistoryLike, *, start: Fitted | None = None) -> Fitted:
        """Estimate on ``history`` (the training window, ending at the origin).

        ``start`` is the previous fit of the same specification, used as a warm start by
        models estimated numerically; models without estimation ignore it. Implementations
        begin with :func:`check_history`.
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
