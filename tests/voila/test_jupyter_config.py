"""The repository's jupyter_config/: complete, documented, read through JUPYTER_CONFIG_PATH, and safe by default."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat


def test_voila_json_is_locked_down(repo_root: Path) -> None:
    """voila.json: loopback, no browser, sources stripped, no tracebacks, culling on, guarded auth and websocket."""
    cfg = json.loads((repo_root / "jupyter_config" / "voila.json").read_text())
    assert cfg["Voila"]["ip"] == "127.0.0.1" and cfg["Voila"]["open_browser"] is False
    assert cfg["VoilaConfiguration"]["strip_sources"] is True
    assert cfg["VoilaConfiguration"]["show_tracebacks"] is False
    assert cfg["VoilaConfiguration"]["file_allowlist"] == []
    kmc = cfg["MappingKernelManager"]
    assert kmc["cull_idle_timeout"] > 0 and kmc["cull_interval"] > 0 and kmc["cull_connected"] is False
    assert kmc["cull_idle_timeout"] + kmc["cull_interval"] + 15 <= 120  # + the default viewer lease: within 2 min
    for key in ("identity_provider_class", "kernel_websocket_connection_class"):
        module, _, name = cfg["Voila"][key].rpartition(".")
        assert hasattr(importlib.import_module(module), name)


def test_server_and_lab_settings(repo_root: Path) -> None:
    """Server config: loopback, guarded auth, Lab opens the live dashboard; Lab overrides: no news, no update checks."""
    text = (repo_root / "jupyter_config" / "jupyter_server_config.py").read_text()
    compile(text, "jupyter_server_config.py", "exec")
    assert 'c.ServerApp.ip = "127.0.0.1"' in text
    assert 'c.LabApp.default_url = "/lab/tree/notebooks/live_dashboard.ipynb"' in text
    assert "GuardedIdentityProvider" in text
    overrides = json.loads((repo_root / "jupyter_config" / "labconfig" / "default_setting_overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert overrides["@jupyterlab/apputils-extension:notification"]["checkForUpdates"] is False


def test_every_file_is_documented(repo_root: Path) -> None:
    """jupyter_config/README.md names every file of the folder and the plain voila command."""
    folder = repo_root / "jupyter_config"
    readme = (folder / "README.md").read_text()
    for path in folder.rglob("*"):
        if path.is_file() and path.name != "README.md" and "__pycache__" not in path.parts:
            assert path.name in readme, path
    assert "JUPYTER_CONFIG_PATH" in readme and "voila notebooks/voila_dashboard.ipynb" in readme


def test_config_path_puts_the_folder_first(repo_root: Path, tmp_path: Path) -> None:
    """With JUPYTER_CONFIG_PATH set as `quantkit up`/`serve` set it, Jupyter reads our folder first (read-only use)."""
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(repo_root / "jupyter_config"))
    out = subprocess.run([sys.executable, "-m", "jupyter", "--paths", "--json"], env=env, capture_output=True,
                         text=True, check=True, timeout=60).stdout  # fmt: skip
    paths = json.loads(out)
    assert paths["config"][0] == str(repo_root / "jupyter_config")
    # nothing written into the repo (a .venv inside the checkout, as tests/run.sh makes, is the interpreter's own prefix)
    ours = [p for p in paths["data"] + paths["runtime"] if not p.startswith(sys.prefix)]
    assert not any(p.startswith(str(repo_root)) for p in ours)


def test_the_voila_notebook_is_thin(repo_root: Path) -> None:
    """The Voila notebook: a parameters cell, a few short code cells, no def/class, no store URI."""
    nb = nbformat.read(repo_root / "notebooks" / "voila_dashboard.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(len(c.source.splitlines()) <= 6 for c in code) and len(code) <= 4
    joined = "\n".join(c.source for c in code)
    assert "def " not in joined and "class " not in joined
    assert "lmdb://" not in joined and "s3://" not in joined and "store_uri" not in joined
    assert all(not c.get("outputs") for c in code)
