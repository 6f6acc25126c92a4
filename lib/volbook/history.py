"""What a model sees at an origin: :class:`History`, a read-only window of the daily frame.

The walk-forward engine (:mod:`volbook.walkforward`) cuts the daily frame into windows and
hands each model a ``History``:

* for ``fit``: rows ``lo .. t`` of the frame, ending at the refit origin t;
* for ``Fitted.forecast`` / ``one_step``: the rows ``t+1 .. t1`` that follow the fit, fed to
  the fitted filter one by one (row j of the forecast uses ``new[:j]`` only).

Only the columns a model declares in ``Forecaster.inputs`` are in it, each a read-only
float array, plus ``dates`` (the frame's dates as ``datetime64[D]``, or integer positions);
``"ret2"`` gives ``ret ** 2``. A History without rows gives an empty array for any column.

Training targets come from :meth:`History.training_rows` and from nowhere else. It returns
the rows s of the window together with ``y_s = sum(proxy[s+1 .. s+h])`` for exactly the rows
whose target window ends inside the history (``s + h <= t``). A History holds no row after
its last one, so a target that ends after the origin cannot be formed: the rule
"a training row (s, target over s+1..s+h) is usable at t only if s + h <= t"
(:mod:`volbook.timing`) holds by construction, for every model.

Example::

    hist = History.from_frame(frame.slice(0, t + 1), ["ret", "rv"])
    rows, y = hist.training_rows(5, "rv")     # y[i] = rv[rows[i]+1 : rows[i]+6].sum()
    X = har_features(hist["rv"])[rows]         # features at s, known at the close of s
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import polars as pl

from volbook.errors import DataError, ParameterError
from volbook.timing import forward_sum

__all__ = ["History", "as_history", "RET2"]

#: Proxy name for squared returns (``ret ** 2``) in :meth:`History.training_rows`.
RET2 = "ret2"


def _readonly(values: np.ndarray) -> np.ndarray:
    view = values.view()
    view.flags.writeable = False
    return view


class History:
    """An immutable, picklable window of the daily frame (rows in time order, oldest first).

    Parameters
    ----------
    columns
        Column name -> 1-D numeric array, all of the same length.
    dates
        Row labels of the same length (``datetime64[D]`` dates or integer positions);
        ``None`` labels rows ``0 .. n-1``.
    targets
        Whether :meth:`training_rows` may be used. The engine sets it to ``False`` for the
        rows fed to a fitted model after its origin, which are not training data.
    """

    __slots__ = ("_columns", "_dates", "_targets")

    def __init__(
        self,
        columns: Mapping[str, np.ndarray],
        dates: np.ndarray | Sequence | None = None,
        *,
        targets: bool = True,
    ) -> None:
        cols = {str(k): _readonly(np.asarray(v, dtype=float).ravel()) for k, v in columns.items()}
        lengths = {v.size for v in cols.values()}
        if len(lengths) > 1:
            raise DataError(f"history columns differ in length: {({k: v.size for k, v in cols.items()})}")
        n = lengths.pop() if lengths else (0 if dates is None else len(dates))
        d = np.arange(n) if dates is None else np.asarray(dates)
        if d.size != n:
            raise DataError(f"history has {d.size} dates for {n} rows")
        self._columns = cols
        self._dates = _readonly(d)
        self._targets = bool(targets)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, columns: Iterable[str] | None = None) -> History:
        """A History of ``columns`` (default: every column but ``date``) of a polars frame."""
        names = [c for c in frame.columns if c != "date"] if columns is None else list(columns)
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise DataError(f"the frame lacks the column(s) {missing} (it has {frame.columns})")
        dates = frame["date"].to_numpy() if "date" in frame.columns else None
        return cls({c: frame[c].cast(pl.Float64).to_numpy() for c in names}, dates)

    # -- access ---------------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._columns:
            return self._columns[name]
        if name == RET2 and "ret" in self._columns:
            return self._columns["ret"] ** 2
        if not len(self):  # no rows: every column is empty (``forecast(h)`` with no new rows)
            return _readonly(np.empty(0))
        raise DataError(f"history has no column {name!r} (it has {list(self._columns)})")

    def __contains__(self, name: object) -> bool:
        return name in self._columns or (name == RET2 and "ret" in self._columns)

    def __len__(self) -> int:
        return self._dates.size

    def __repr__(self) -> str:
        span = f"{self._dates[0]} .. {self._dates[-1]}" if len(self) else "empty"
        return f"History({len(self)} rows, {span}, columns={list(self._columns)})"

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the columns held."""
        return tuple(self._columns)

    @property
    def dates(self) -> np.ndarray:
        """Row labels: ``datetime64[D]`` dates, or integer positions in the full frame."""
        return self._dates

    # -- targets --------------------------------------------------------------------------
    def training_rows(self, horizon: int, proxy: str = RET2) -> tuple[np.ndarray, np.ndarray]:
        """Training rows and their forward targets, for rows whose target is known at the end.

        Parameters
        ----------
        horizon
            h >= 1.
        proxy
            A column name (``"rv"``) or ``"ret2"`` for squared returns.

        Returns
        -------
        rows, y
            ``rows`` = positions s in this history with ``s + h <= len(self) - 1``, i.e. the
            target window s+1..s+h ends at the last row t at the latest; ``y[i]`` =
            ``sum(proxy[rows[i] + 1 : rows[i] + h + 1])``. Empty when the history has h rows
            or fewer.
        """
        if not self._targets:
            raise ParameterError("rows fed to a fitted model after its origin carry no training targets")
        h = int(horizon)
        if h < 1:
            raise ParameterError(f"horizon must be a positive integer, got {horizon}")
        x = self[proxy]
        y = forward_sum(x, h)[: max(x.size - h, 0)]
        return np.arange(y.size), y

    def __reduce__(self):
        return (_rebuild, (dict(self._columns), np.asarray(self._dates), self._targets))


def _rebuild(columns: dict[str, np.ndarray], dates: np.ndarray, targets: bool) -> History:
    return History(columns, dates, targets=targets)


def as_history(data: History | np.ndarray | pl.Series | pl.DataFrame | None, *, targets: bool = True) -> History:
    """``data`` as a :class:`History`.

    A History passes through; a polars DataFrame becomes one with its columns (``date`` as
    labels); a 1-D array or Series of returns becomes ``History({"ret": data})``; ``None`` an
    empty history of returns.
    """
    if isinstance(data, History):
        return data
    if isinstance(data, pl.DataFrame):
        hist = History.from_frame(data)
        return hist if targets else History(hist._columns, hist.dates, targets=False)
    values = np.empty(0) if data is None else np.asarray(data, dtype=float)
    if values.ndim != 1:
        raise DataError(f"returns must be one-dimensional, got shape {values.shape}; pass a History or a frame")
    return History({"ret": values}, targets=targets)
