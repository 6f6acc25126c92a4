"""volbook: the library behind the volatility-forecasting book.

Data flows one way: ``data`` -> ``realized`` / ``timing`` (returns, targets) -> ``models`` via
``walkforward`` (forecasts) -> ``evaluate`` / ``backtest`` -> ``plots`` -> chapters -> site.
The timing convention every piece follows is written once, in :mod:`volbook.timing`.
"""

from __future__ import annotations

import os
import random

__all__ = ["__version__", "setup", "SEED"]
__version__ = "0.1.0"

#: The seed every chapter starts from (``volbook.setup``) unless it passes its own.
SEED = 20240101


def setup(seed: int = SEED, precision: int = 4) -> None:
    """Prepare a chapter's kernel: seeds, threads, display precision, plotly renderer, theme.

    Every chapter calls this in its first cell. It pins what makes outputs reproducible:
    the random seeds, one BLAS/OpenMP thread, the number of digits tables show, and the
    plotly renderer (:mod:`volbook.plots` registers one that writes figures as HTML with a
    deterministic ``div`` id and without plotly.js, which the rendered site ships once).
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    random.seed(seed)
    import numpy as np
    import pandas as pd
    import polars as pl

    np.random.seed(seed)
    pl.Config.set_float_precision(precision)
    pl.Config.set_tbl_rows(30)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pd.set_option("display.precision", precision)

    from volbook import plots

    plots.use_volbook_theme()
