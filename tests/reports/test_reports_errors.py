"""Bad parameters stop a report before any kernel starts; a report failing mid-way is indexed as failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import nbformat
import pytest

from quantkit.errors import ReportParameterError
from quantkit.reports import ReportFailed, register, run_report

RANGE = {"start": "2025-06-10T00:00", "end": "2025-06-12T00:00"}


@pytest.mark.parametrize(
    ("changes", "name", "words"),
    [
        ({"pair": "ETHUSDT/XYZUSDT"}, "pair", "XYZUSDT"),
        ({"start": "2025-06-12", "end": "2025-06-10"}, "end", "empty range"),
        ({"start": "2024-01-01", "end": "2024-01-05"}, "start", "no 1m bars of ETHUSDT"),
        ({"window": "abc"}, "window", "integer"),
        ({"hedge": "magic"}, "hedge", "static, rolling, kalman"),
        ({"windw": "3"}, "windw", "unknown parameter"),
        ({"start": "yesterday-ish"}, "start", "UTC time"),
    ],
)
def test_bad_parameters_raise_before_any_kernel(
    tmp_path: Path, report_store: tuple[str, str], kernel_processes: Callable[[], set[int]],
    changes: dict[str, str], name: str, words: str,
) -> None:
    """Unknown symbol, empty range, range without data, malformed or unknown value: a named error, nothing written."""
    uri, library = report_store
    params = {"pair": "ETHUSDT/BTCUSDT", **RANGE, "store": uri, "library": library, **changes}
    out = tmp_path / "out"
    with pytest.raises(ReportParameterError) as info:
        run_report(params, out_dir=out)
    assert info.value.name == name
    assert words in str(info.value) and "\n" not in str(info.value)
    assert not out.exists() or not any(out.rglob("*"))  # no run folder, no notebook, no index
    assert kernel_processes() == set()


def _cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "quantkit", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.parametrize(
    ("pair", "extra", "words"),
    [("ETHUSDT/NOPEUSDT", [], "NOPEUSDT"), ("ETHUSDT/BTCUSDT", ["-p", "entry_z=high"], "entry_z")],
)
def test_cli_bad_parameters_one_line_and_exit_code(
    tmp_path: Path, report_store: tuple[str, str], timeout_unit: float, pair: str, extra: list[str], words: str
) -> None:
    """`quantkit report` with a bad symbol or value exits 1 with one stderr line and writes no notebook."""
    uri, library = report_store
    out = tmp_path / "out"
    proc = _cli("report", pair, "--start", RANGE["start"], "--end", RANGE["end"], "--store", uri, "--library", library,
                "--out", str(out), "-q", *extra, timeout=120 * timeout_unit)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("quantkit report: error: parameter ") and words in lines[0]
    assert not list(out.rglob("*.ipynb"))


def test_report_failing_midway_is_indexed_with_the_cell(tmp_path: Path, report_store: tuple[str, str],
                                                       repo_root: Path) -> None:
    """A cell raising mid-way: failed index entry naming cell, section and error; the partial notebook is kept."""
    nb = nbformat.read(str(repo_root / "notebooks" / "reports" / "pair_report.ipynb"), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Cointegration"))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("raise RuntimeError('injected failure in the cointegration section')"))
    broken = tmp_path / "broken_pair_report.ipynb"
    nbformat.write(nb, str(broken))
    register("pair-broken", broken)
    uri, library = report_store
    out = tmp_path / "out"
    with pytest.raises(ReportFailed) as info:
        run_report({"pair": "SOLUSDT/ETHUSDT", **RANGE, "store": uri, "library": library, "window": "60"},
                   kind="pair-broken", out_dir=out)
    err = info.value
    # papermill inserts the injected-parameters cell after the parameters cell: one more before ours
    assert err.cell == at + 2
    assert err.ename == "RuntimeError" and "injected failure" in err.evalue
    assert err.section == "Cointegration"
    index = json.loads((out / "index.json").read_text())
    (entry,) = index["runs"]
    assert entry["status"] == "failed" and entry["kind"] == "pair-broken"
    assert entry["error"]["cell"] == at + 2 and entry["error"]["section"] == "Cointegration"
    partial = nbformat.read(str(out / entry["notebook"]), as_version=4)
    cells = [c for c in partial.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    assert cells[at + 2].outputs[0]["output_type"] == "error"
    assert any("qk-coverage" in o.get("data", {}).get("text/html", "") for c in cells[:at]
               if c.cell_type == "code" for o in c.outputs)  # sections before the failure ran
    assert all(not c.outputs for c in cells[at + 3:] if c.cell_type == "code")  # after it, nothing ran
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "failed" in page and "RuntimeError" in page and f"cell {at + 2} (Cointegration)" in page
    assert (out / entry["html"]).exists()


def test_notebook_parameters_match_the_parameter_class(repo_root: Path) -> None:
    """The notebook's `parameters` cell declares exactly the checked parameters, and its other cells stay thin."""
    import ast
    import dataclasses

    import papermill as pm

    from quantkit.reports import PairReportParameters

    path = repo_root / "notebooks" / "reports" / "pair_report.ipynb"
    declared = pm.inspect_notebook(str(path))
    assert set(declared) == {f.name for f in dataclasses.fields(PairReportParameters)}
    defaults = {name: ast.literal_eval(info["default"]) for name, info in declared.items()}
    PairReportParameters.from_mapping(defaults)  # the defaults are valid values
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    for cell in code:
        assert len(cell.source.splitlines()) <= 4
        assert "def " not in cell.source and "class " not in cell.source
