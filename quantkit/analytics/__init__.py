"""Pair analytics: pure functions and small stateful estimators on pandas/numpy.

Nothing here does I/O; inputs are price Series/arrays (or tick/bar frames
for :func:`align_pair` and the market-state functions), outputs are pandas
objects or frozen result dataclasses with ``to_dict()``/``to_frame()``. Bad
input raises :class:`quantkit.errors.AnalyticsError` naming the problem.
Logger: ``"quantkit.analytics"``.

Modules: alignment (align_pair), hedge (OLS/TLS/Huber/Johansen, rolling and
expanding OLS), kalman, spreads (spread, z-score, bands), stationarity (ADF,
KPSS), cointegration (Engle-Granger, Johansen), meanreversion (half-life, OU,
Hurst, variance ratio), relationship (return correlation, lead-lag, beta
stability), marketstate (volatility regime, trend, VWAP, trade imbalance),
streaming (O(1) estimators, PairStream), scanner (scan_pairs, default_pair), verdict
(cointegration_study: the one cointegration verdict), results. The pair loader
(alignment.load_pair) is the one reader of a pair's bars from a store.
PairStream (streaming) is the one live engine (dashboard, alerts); decimation is the one chart
decimator (bounded points per line, every bucket's min and max kept) of every page and report.
"""

from __future__ import annotations

from .alignment import Gap, PairBars, align_pair, load_pair, price_series, read_bars
from .cointegration import EngleGrangerResult, JohansenResult, engle_granger, johansen
from .hedge import (
    HedgeRatio,
    OLSHedge,
    expanding_ols,
    huber_hedge,
    johansen_hedge,
    ols_hedge,
    rolling_ols,
    tls_hedge,
)
from .kalman import KalmanHedge, kalman_hedge
from .marketstate import realized_volatility, trade_imbalance, trend_slope, volatility_regime, vwap
from .meanreversion import HalfLife, HurstResult, OUFit, VarianceRatio, half_life, hurst, ou_fit, variance_ratio
from .relationship import (
    BetaStability,
    CrossCorrelation,
    beta_stability,
    cross_correlation,
    returns,
    rolling_correlation,
)
from .results import Result
from .scanner import SCAN_COLUMNS, PairChoice, default_bar_size, default_pair, load_closes, scan_pairs
from .spreads import bollinger_bands, rolling_mean_std, spread, zscore
from .stationarity import ADFResult, KPSSResult, adf, kpss
from .verdict import CointegrationStudy, cointegration_study
from .streaming import HEDGE_METHODS, KalmanStream, PairStream, RollingCovariance, RollingMoments

__all__ = [
    "ADFResult",
    "CointegrationStudy",
    "Gap",
    "PairBars",
    "PairChoice",
    "HEDGE_METHODS",
    "BetaStability",
    "CrossCorrelation",
    "EngleGrangerResult",
    "HalfLife",
    "HedgeRatio",
    "HurstResult",
    "JohansenResult",
    "KPSSResult",
    "KalmanHedge",
    "KalmanStream",
    "OLSHedge",
    "OUFit",
    "PairStream",
    "Result",
    "RollingCovariance",
    "RollingMoments",
    "SCAN_COLUMNS",
    "VarianceRatio",
    "adf",
    "align_pair",
    "cointegration_study",
    "default_bar_size",
    "default_pair",
    "load_pair",
    "read_bars",
    "beta_stability",
    "bollinger_bands",
    "cross_correlation",
    "engle_granger",
    "expanding_ols",
    "half_life",
    "huber_hedge",
    "hurst",
    "johansen",
    "johansen_hedge",
    "kalman_hedge",
    "kpss",
    "load_closes",
    "ols_hedge",
    "ou_fit",
    "price_series",
    "realized_volatility",
    "returns",
    "rolling_correlation",
    "rolling_mean_std",
    "rolling_ols",
    "scan_pairs",
    "spread",
    "tls_hedge",
    "trade_imbalance",
    "trend_slope",
    "variance_ratio",
    "volatility_regime",
    "vwap",
    "zscore",
]
