"""Regime-switching HAR forecasters (chapter 3) and their numeric cores.

Modules, one job each: :mod:`~.scales` (the regression scale and its back-transform),
:mod:`~.switching` (Markov-switching regression: soft EM, statsmodels reference, forward filter),
:mod:`~.segmentation` (Mood-test segments, Wasserstein spectral clustering),
:mod:`~.coefficients` (rolling HAR coefficients, PCA, Bayesian mixture), :mod:`~.classifier`
(XGBoost regime classifier), :mod:`~.base` (per-regime direct HAR regressions and the blend),
:mod:`~.forecasters` (the four forecasters), :mod:`~.simulate` (a regime-switching log-HAR with
known truth).
"""

from volbook.models.regime.forecasters import CoefficientHAR, DistributionalHAR, MarkovSwitchingHAR, SoftMarkovHAR
from volbook.models.regime.simulate import DEFAULT_REGIME_HAR, score_regime_recovery, simulate_regime_har

__all__ = [
    "DEFAULT_REGIME_HAR",
    "CoefficientHAR",
    "DistributionalHAR",
    "MarkovSwitchingHAR",
    "SoftMarkovHAR",
    "score_regime_recovery",
    "simulate_regime_har",
]
