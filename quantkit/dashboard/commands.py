"""The ``quantkit serve`` sub-command: argument parsing only; :func:`quantkit.dashboard.serve.serve` does the work.

Wire it into the ``quantkit`` parser with::

    from quantkit.dashboard.commands import register
    register(sub)        # sub = parser.add_subparsers(...)

Errors are :class:`~quantkit.errors.QuantkitError` subclasses (the CLI prints one line, exit 1),
e.g. :class:`~quantkit.dashboard.serve.ExposureError` for ``--ip 0.0.0.0`` without ``--token``.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from quantkit import argtypes
from quantkit.config import StoreConfig
from quantkit.errors import ConfigError

__all__ = ["cmd_serve", "register"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``); returns its parser."""
    sp = subparsers.add_parser(
        "serve",
        help="serve the read-only live dashboard with Voila (loopback unless a token or password is given)",
        description="Serve notebooks/voila_dashboard.ipynb with Voila using jupyter_config/ (sources stripped, "
        "no tracebacks, idle kernels culled). Binding beyond loopback requires --token or a password.",
    )
    sp.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=argtypes.port, default=8866, help="port (default 8866; 0 = any free)")
    sp.add_argument("--token", help="access token (default: JUPYTER_TOKEN if set; none on loopback)")
    sp.add_argument("--password", action="store_true", help="prompt for a password (stored hashed in memory only)")
    sp.add_argument("--password-hash", help="a jupyter_server.auth.passwd() hash (argon2:...) instead of a prompt")
    sp.add_argument("--notebook", type=Path, help="notebook to serve (default notebooks/voila_dashboard.ipynb)")
    sp.add_argument("--viewer-timeout", type=argtypes.seconds, help="seconds without a browser heartbeat before a page "
                    "stops publishing (default QUANTKIT_VIEWER_TIMEOUT or 15)")  # fmt: skip
    sp.add_argument("--cull-idle-timeout", type=argtypes.seconds, help="cull kernels idle this long (default: voila.json, 60)")
    sp.add_argument("--cull-interval", type=argtypes.seconds, help="culler period in seconds (default: voila.json, 15)")
    sp.add_argument("--pool", type=argtypes.non_negative_int, default=0, help="pre-started kernels for instant pages (default 0)")
    sp.add_argument("--store", type=argtypes.store_uri, help="ArcticDB URI (default: QUANTKIT_ARCTIC_URI or lmdb://~/.quantkit/arctic)")
    sp.add_argument("--library", type=argtypes.library, help="ArcticDB library (default: QUANTKIT_LIBRARY or quantkit)")
    sp.set_defaults(func=cmd_serve)
    return sp


def cmd_serve(args: argparse.Namespace) -> int:
    """Run ``quantkit serve`` with parsed ``args``; returns the exit code."""
    from quantkit.dashboard.serve import ServeOptions, check_exposure, serve

    token = args.token or os.environ.get("JUPYTER_TOKEN") or None
    hashed = args.password_hash
    if args.password and not hashed:
        hashed = _prompt_password()
    store = None
    if args.store or args.library:
        base = StoreConfig.from_env()
        store = StoreConfig(uri=args.store or base.uri, library=args.library or base.library)
    # refuse before anything starts: one line, exit 1 (the CLI maps ConfigError)
    check_exposure(args.ip, token=token, hashed_password=hashed)
    options = ServeOptions(
        notebook=args.notebook, ip=args.ip, port=args.port, token=token, hashed_password=hashed, store=store,
        viewer_timeout_s=args.viewer_timeout, cull_idle_timeout_s=args.cull_idle_timeout,
        cull_interval_s=args.cull_interval, pool_size=args.pool,
    )  # fmt: skip
    return serve(options)


def _prompt_password() -> str:
    from jupyter_server.auth import passwd

    first = getpass.getpass("Password for the dashboard: ")
    if len(first) < 8:
        raise ConfigError("password", "***", "must be at least 8 characters")
    if getpass.getpass("Repeat it: ") != first:
        raise ConfigError("password", "***", "the two entries differ")
    return str(passwd(first))
