"""Fixtures shared by the whole suite.

* ``shared_data``: the real market data next to the repo (``../shared/data``, or
  ``QUANTKIT_SHARED_DIR``/data). Tests may read it; the product never needs it.
* ``timeout_unit``: one "unit" of waiting, in seconds, scaled by
  ``QUANTKIT_TEST_TIMEOUT_SCALE`` so slow machines scale waits instead of
  flaking. Use ``10 * timeout_unit`` rather than a bare ``10``.
* ``artifacts_dir``: where tests keep screenshots and other artefacts
  (``tests/artifacts/``, ignored by git).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Shared test helpers (real servers, data builders) live in tests/_support, importable as `_support.<module>`.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder (fails loudly if it is missing: it is part of the test environment)."""
    base = os.environ.get("QUANTKIT_SHARED_DIR")
    path = (Path(base) if base else REPO_ROOT.parent / "shared") / "data"
    if not path.is_dir():
        raise RuntimeError(f"shared data folder not found at {path}; set QUANTKIT_SHARED_DIR")
    return path


@pytest.fixture(scope="session")
def timeout_unit() -> float:
    """Seconds per waiting unit (QUANTKIT_TEST_TIMEOUT_SCALE, default 1.0)."""
    return float(os.environ.get("QUANTKIT_TEST_TIMEOUT_SCALE", "1.0"))


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """A folder for test artefacts (screenshots, executed notebooks)."""
    path = REPO_ROOT / "tests" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
