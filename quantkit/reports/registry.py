"""The report kinds: a name -> (notebook, parameter class) registry, like papermill's engines.

``pair`` (``notebooks/reports/pair_report.ipynb`` with :class:`PairReportParameters`)
is registered on import. Add your own with :func:`register`; :func:`get` raises
:class:`~quantkit.errors.ReportParameterError` naming an unknown kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantkit._files import package_checkout
from quantkit.errors import ReportError, ReportParameterError

from .parameters import PairReportParameters

__all__ = ["ReportKind", "ReportRegistry", "get", "names", "register", "reports"]

_REPO = package_checkout()


@dataclass(frozen=True)
class ReportKind:
    """A kind of report.

    Attributes:
        name: registry key (``"pair"``).
        notebook: the template notebook (one cell tagged ``parameters``).
        parameters: the parameter dataclass; it needs ``from_mapping``, ``to_notebook``,
            ``to_display``, ``label``, ``slug`` and ``check_store`` (see :class:`PairReportParameters`).
        description: one line for ``--help`` and the index.
    """

    name: str
    notebook: Path
    parameters: type
    description: str = ""

    def parse(self, raw: Any) -> Any:
        """Parameters of this kind from a mapping (strings or values) or an instance."""
        if isinstance(raw, self.parameters):
            return raw
        return self.parameters.from_mapping(dict(raw))  # type: ignore[attr-defined]

    def template(self) -> Path:
        """The notebook path, checked to exist.

        Raises:
            ReportError: the notebook is missing (e.g. quantkit installed without its notebooks/).
        """
        if not self.notebook.is_file():
            raise ReportError(f"report {self.name!r}: notebook {self.notebook} not found")
        return self.notebook


class ReportRegistry:
    """Name -> :class:`ReportKind`."""

    def __init__(self) -> None:
        self._kinds: dict[str, ReportKind] = {}

    def register(self, name: str, notebook: str | Path, parameters: type = PairReportParameters, description: str = "") -> ReportKind:
        """Register (or replace) the report kind ``name``."""
        kind = ReportKind(name=name, notebook=Path(notebook), parameters=parameters, description=description)
        self._kinds[name] = kind
        return kind

    def get(self, name: str) -> ReportKind:
        """The kind ``name``.

        Raises:
            ReportParameterError: no such kind (the message lists the known ones).
        """
        try:
            return self._kinds[name]
        except KeyError:
            raise ReportParameterError("report", name, f"unknown report kind (known: {', '.join(sorted(self._kinds))})") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._kinds)


#: The process-wide registry (papermill style).
reports = ReportRegistry()
register = reports.register
get = reports.get
names = reports.names

register(
    "pair",
    _REPO / "notebooks" / "reports" / "pair_report.ipynb",
    PairReportParameters,
    "pair research report: coverage, spread, z-score, cointegration, half-life, beta, backtest, alerts",
)
