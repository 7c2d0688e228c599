"""The package type-checks with mypy (configuration in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_mypy_passes_on_the_package(repo_root: Path) -> None:
    """mypy reports no errors on quantkit/."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "quantkit"], cwd=repo_root, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
