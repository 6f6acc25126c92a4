"""Names for readers: model, strategy and horizon labels shared by tables, figures and prose.

Result tables keep the machine names (``gjr_garch``, ``rolling_20``); what a reader sees uses
:func:`model_label`, so a model is called the same in every table, legend and sentence:

>>> model_label("gjr_garch"), model_label("rolling_20"), model_label("ewma_0.97")
('GJR-GARCH', 'Rolling 20-day', 'EWMA (λ = 0.97)')
>>> model_label("garch_refit_5"), model_label("garch_no_costs"), horizon_label(1)
('GARCH(1,1), refit every 5 days', 'GARCH(1,1), before costs', '1 day')
>>> model_label("har_log_vix_window_500"), model_label("coefficient_har_predicted")
('HAR (log) + VIX, 500-day window', 'Coefficient HAR, predicted weights')

A name it does not know is returned unchanged, so a new model shows up under its own name
until a label is added here.
"""

from __future__ import annotations

import re

__all__ = ["GATE_LABELS", "MODEL_LABELS", "model_label", "horizon_label"]

#: Labels of the book's model and strategy names.
MODEL_LABELS = {
    "realized": "Realized",
    "ewma": "EWMA",
    "garch": "GARCH(1,1)",
    "gjr_garch": "GJR-GARCH",
    "t_garch": "t-GARCH",
    "buy_and_hold": "Buy and hold",
    "har": "HAR-RV",
    "es": "ES",
    "stes": "STES",
    "xgbstes": "XGBSTES",
    # chapter 3: HARs in logs and the regime forecasters
    "har_log": "HAR (log)",
    "har_log_vix": "HAR (log) + VIX",
    "har_log_logvix": "HAR (log) + log VIX²",
    "soft_markov_har": "Soft Markov HAR",
    "ms_har": "MS-HAR (statsmodels)",
    "distributional_har": "Distributional HAR",
    "coefficient_har": "Coefficient HAR",
}

#: Gate feature sets of chapter 2's STES / XGBSTES variants (``stes_hardiff_seasonal``).
GATE_LABELS = {"har": "HAR(5,20)", "hardiff": "HAR-diff", "seasonal": "seasonal"}

_PATTERNS = (
    (re.compile(r"^rolling_(\d+)$"), lambda m: f"Rolling {m[1]}-day"),
    (re.compile(r"^ewma_([0-9.]+)$"), lambda m: f"EWMA (λ = {m[1]})"),
    (re.compile(r"^(.+)_refit_(\d+)$"), lambda m: f"{model_label(m[1])}, refit every {m[2]} days"),
    (re.compile(r"^(.+)_no_costs$"), lambda m: f"{model_label(m[1])}, before costs"),
    (re.compile(r"^(stes|xgbstes)((?:_(?:har|hardiff|seasonal))+)$"),
     lambda m: " + ".join([model_label(m[1])] + [GATE_LABELS[g] for g in m[2][1:].split("_")])),
    (re.compile(r"^(.+)_window_(\d+)$"), lambda m: f"{model_label(m[1])}, {m[2]}-day window"),
    (re.compile(r"^(.+)_predicted$"), lambda m: f"{model_label(m[1])}, predicted weights"),
)


def model_label(name: str) -> str:
    """The reader's name of a model or strategy (``name`` itself when unknown)."""
    if name in MODEL_LABELS:
        return MODEL_LABELS[name]
    for pattern, label in _PATTERNS:
        match = pattern.match(name)
        if match:
            return label(match)
    return name


def horizon_label(h: int) -> str:
    """``"1 day"``, ``"5 days"``."""
    return f"{h} day" if int(h) == 1 else f"{h} days"


#: Chapter 4's panel models (:func:`volbook.panel.study_models`), their regressors, and the
#: perfect-foresight "forecast" (the realized ``target``). ``vol_5`` is both a feature and the
#: baseline that forecasts with it, hence one label for both.
MODEL_LABELS.update({
    "vol_5": "5-day vol",
    "vol_21": "21-day vol",
    "vol_63": "63-day vol",
    "vol_126": "126-day vol",
    "vol_252": "252-day vol",
    "vol_down_21": "21-day downside vol",
    "vol_up_21": "21-day upside vol",
    "composite": "Composite (5/21/63-day)",
    "blend": "Blend (0.7 × 21-day + 0.3 × 252-day)",
    "per_asset": "Per-asset ridge",
    "per_sector": "Per-sector ridge",
    "global": "Global ridge",
    "global_dummies": "Global + sector dummies",
    "global_log_dummies": "Global + dummies, log space",
    "market_vol_factor": "Global log + market vol factor",
    "group_risk_factor": "Global log + group risk factor",
    "xgboost": "XGBoost",
    "target": "Perfect foresight",
    "intercept": "Intercept",
    "market_vol": "Market vol",
    "group_risk": "Group risk",
    "log_mcap": "Log market cap",
})
_PATTERNS = (*_PATTERNS, (re.compile(r"^sector=(.+)$"), lambda m: f"{m[1]} (dummy)"))
