"""Panel volatility forecasting over (date, asset): features, models, walk-forward, portfolios.

The library of the panel chapter (issue 9), split by job:

* :mod:`~volbook.panel.features` — the study's features and the forward-vol target;
* :mod:`~volbook.panel.schedule` — refit dates, leak-free training windows, window sums;
* :mod:`~volbook.panel.models` — baselines, pooled / per-sector / per-asset ridge, XGBoost;
* :mod:`~volbook.panel.walkforward` — fit every model on one schedule, forecast every row;
* :mod:`~volbook.panel.scores` — correlation, RMSE, MAE, MAPE, by model and by regime;
* :mod:`~volbook.panel.portfolio` — books sized by each model's forecast;
* :mod:`~volbook.panel.replication` — the study's published (leaking) polars-ols code, to measure it.
* :mod:`~volbook.panel.compare` — are two models' scores different? Tests over dates;
* :mod:`~volbook.panel.plots` — the chapter's figures.
"""

from volbook.panel.features import CLIP, VOL_FEATURES, PanelFeatures, build_features, design_exprs
from volbook.panel.models import PUBLISHED, Baseline, PanelRidge, PanelXGB, solve_ridge, study_models
from volbook.panel.portfolio import backtest_books, book_weights
from volbook.panel.schedule import RefitSchedule, window_sums
from volbook.panel.scores import REGIMES, daily_losses, market_regime, score_forecasts, with_published
from volbook.panel.walkforward import PanelWalkForward, walk_forward_panel

__all__ = [
    "CLIP",
    "PUBLISHED",
    "REGIMES",
    "VOL_FEATURES",
    "Baseline",
    "PanelFeatures",
    "PanelRidge",
    "PanelWalkForward",
    "PanelXGB",
    "RefitSchedule",
    "backtest_books",
    "book_weights",
    "build_features",
    "daily_losses",
    "design_exprs",
    "market_regime",
    "score_forecasts",
    "solve_ridge",
    "study_models",
    "walk_forward_panel",
    "window_sums",
    "with_published",
]
