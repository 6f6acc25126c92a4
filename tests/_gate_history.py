"""Shared inputs of the gate-model tests: S&P 500 returns (arch's copy) as Histories."""

import numpy as np
from arch.data import sp500

from volbook.history import History


def history(ret, rv=None, dates=None):
    """A History of returns (and a realized measure), as the engine would hand it to a model."""
    cols = {"ret": np.asarray(ret, dtype=float)}
    if rv is not None:
        cols["rv"] = np.asarray(rv, dtype=float)
    return History(cols, dates)


def sp500_returns():
    close = sp500.load()["Adj Close"].to_numpy()
    return np.diff(np.log(close))
