"""A stand-in for the engine's History (rows up to the origin), for the gate-model tests."""

import numpy as np
from arch.data import sp500


class _History:
    def __init__(self, cols, dates):
        self.cols, self.dates = cols, dates

    def __getitem__(self, name):
        return self.cols[name]

    def __len__(self):
        return self.cols["ret"].size

    def training_rows(self, horizon, proxy):
        p = self.cols["ret"] ** 2 if proxy == "ret2" else self.cols[proxy]
        rows = np.arange(p.size - horizon)
        return rows, np.array([p[s + 1 : s + horizon + 1].sum() for s in rows])


def history(ret, rv=None, dates=None):
    cols = {"ret": np.asarray(ret, dtype=float)}
    if rv is not None:
        cols["rv"] = np.asarray(rv, dtype=float)
    return _History(cols, dates)


def sp500_returns():
    close = sp500.load()["Adj Close"].to_numpy()
    return np.diff(np.log(close))
