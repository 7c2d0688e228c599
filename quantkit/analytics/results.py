"""The base of every analytics result object.

Results are frozen dataclasses. They print as one readable line (floats to 6
significant digits, series and frames summarised by length), and convert to
plain Python (:meth:`Result.to_dict`) or to a one-row DataFrame
(:meth:`Result.to_frame`). Series-valued fields (residuals, paths) are kept
out of ``to_dict()``/``to_frame()`` unless asked for.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ADFRegression", "Result"]


def _fmt(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:.6g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, pd.DataFrame):
        return f"<DataFrame {value.shape[0]}x{value.shape[1]}>"
    if isinstance(value, pd.Series):
        return f"<Series n={len(value)}>"
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return "[" + ", ".join(_fmt(v) for v in value.ravel()) + "]"
        return f"<array shape={value.shape}>"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!s}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)) and len(value) <= 6:
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return repr(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Result:
    """Base class: readable repr, ``to_dict()``, ``to_frame()``."""

    def _fields(self, *, series: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            if not series and isinstance(v, (pd.Series, pd.DataFrame)):
                continue
            out[f.name] = v
        return out

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={_fmt(v)}" for k, v in self._fields(series=True).items())
        return f"{type(self).__name__}({parts})"

    def to_dict(self, *, series: bool = False) -> dict[str, Any]:
        """The result as plain Python values (JSON-friendly).

        Args:
            series: include Series/DataFrame fields as they are (default False: left out).
        """
        return {k: (v if isinstance(v, (pd.Series, pd.DataFrame)) else _plain(v))
                for k, v in self._fields(series=series).items()}

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame of the scalar fields (dict fields flattened as ``name[key]``)."""
        row: dict[str, Any] = {}
        for k, v in self.to_dict().items():
            if isinstance(v, dict):
                for kk, vv in v.items():
                    row[f"{k}[{kk}]"] = vv
            elif isinstance(v, list):
                row[k] = str(v)
            else:
                row[k] = v
        return pd.DataFrame([row], index=[type(self).__name__])


class ADFRegression:
    """Mixin for results of an ADF regression: its coefficients by name and the AR(1) term textbooks print.

    The class using it holds ``coefs`` and ``std_errors`` (name -> value); ``level_lag1`` is the coefficient on
    the lagged level of the tested series (the residual, for Engle-Granger).
    """

    coefs: dict[str, float]
    std_errors: dict[str, float]

    @property
    def gamma(self) -> float:
        """Coefficient on the lagged level in the ADF regression (``coefs["level_lag1"]``)."""
        return self.coefs["level_lag1"]

    @property
    def se_gamma(self) -> float:
        """Standard error of :attr:`gamma`."""
        return self.std_errors["level_lag1"]
