"""Volatility forecasters, one module per family, one API (:mod:`volbook.models.base`)."""

from volbook.models.base import Fitted, Forecaster, registered_forecasters
from volbook.models.baselines import RollingWindow
from volbook.models.ewma import EWMA
from volbook.models.garch import GARCH
from volbook.models.har import HAR
from volbook.models.har_groups import har_with_groups
from volbook.models.regime import CoefficientHAR, DistributionalHAR, MarkovSwitchingHAR, SoftMarkovHAR
from volbook.models.stes import ES, STES
from volbook.models.xgbstes import XGBSTES

__all__ = [
    "Forecaster",
    "Fitted",
    "registered_forecasters",
    "RollingWindow",
    "EWMA",
    "GARCH",
    "HAR",
    "har_with_groups",
    "ES",
    "STES",
    "XGBSTES",
    "SoftMarkovHAR",
    "MarkovSwitchingHAR",
    "DistributionalHAR",
    "CoefficientHAR",
]
