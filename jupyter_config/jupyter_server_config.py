"""Jupyter server configuration for quantkit, used through ``JUPYTER_CONFIG_PATH=<repo>/jupyter_config``.

``quantkit up`` sets ``JUPYTER_CONFIG_PATH``; nothing is written into the repo at run time
(``JUPYTER_CONFIG_DIR`` is left alone so user settings and workspaces stay in ``~/.jupyter``).
See README.md in this folder for every file and setting.
"""

c = get_config()  # noqa: F821 - injected by Jupyter

# Loopback only: a research kernel is a shell on this machine.
c.ServerApp.ip = "127.0.0.1"
# Beyond loopback, refuse to start without a token or a password (one-line error, exit 1).
# The same provider is named in voila.json for the read-only dashboard.
c.ServerApp.identity_provider_class = "quantkit.dashboard.serve.GuardedIdentityProvider"
# Open JupyterLab on the live dashboard (LabApp.default_url wins over ServerApp.default_url).
c.LabApp.default_url = "/lab/tree/notebooks/live_dashboard.ipynb"
# Cull idle kernels after an hour; a streaming dashboard stays busy on purpose.
c.MappingKernelManager.cull_idle_timeout = 3600
c.MappingKernelManager.cull_interval = 300
c.MappingKernelManager.cull_connected = False
