"""The ``report`` and ``schedule`` sub-commands: each parses its arguments and calls one function.

Wire them into a parser with :func:`register`::

    sub = parser.add_subparsers(dest="command", required=True)
    quantkit.reports.commands.register(sub)

Errors are raised as :class:`~quantkit.errors.QuantkitError` for the caller (``quantkit.cli.main``)
to print as one line with exit code 1. ``python -m quantkit.reports`` runs the two
sub-commands on their own (:func:`main`), with the same exit codes.

Examples::

    quantkit report ETHUSDT/BTCUSDT --start 2025-06-01 --end 2025-06-08 -p window=240 -p hedge=kalman --out reports/
    quantkit report ETHUSDT/BTCUSDT SOLUSDT/ETHUSDT --start 2025-06-01 --end 2025-06-08 --workers 2
    quantkit schedule reports.toml                 # long-lived scheduler
    quantkit schedule reports.toml --once          # run what is due now, then exit (cron / systemd)
    quantkit schedule reports.toml --crontab       # print crontab lines
    quantkit schedule reports.toml --systemd DIR   # write .service/.timer units
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from quantkit import argtypes
from quantkit.errors import QuantkitError

__all__ = ["cmd_report", "cmd_schedule", "main", "register"]


def cmd_report(args: argparse.Namespace) -> int:
    """Run the reports named on the command line; exit code 1 when any failed."""
    from .index import default_out_dir
    from .parameters import parse_assignments
    from .runner import ReportFailed, run_batch

    extra = parse_assignments(args.param)
    if args.store:
        extra["store"] = args.store
    if args.library:
        extra["library"] = args.library
    _require_store(args.store, args.library)
    items = [{**extra, "pair": pair, "start": args.start, "end": args.end} for pair in (args.pairs or [None])]
    out = Path(args.out) if args.out else default_out_dir()
    runs = run_batch(items, kind=args.kind, out_dir=out, workers=args.workers, progress=not args.quiet,
                     reuse_kernels=len(items) > 1)
    for run in runs:
        print(f"{run.status:6s} {run.label}  {out / (run.html or run.notebook or '')}", flush=True)
    print(f"index: {out / 'index.html'}", flush=True)
    failed = [r for r in runs if not r.ok]
    if len(runs) == 1 and failed:
        raise ReportFailed(failed[0], out.resolve())
    if failed:
        print(f"{len(failed)} of {len(runs)} reports failed: " + "; ".join(f"{r.label}: {r.error_line()}" for r in failed),
              file=sys.stderr)
        return 1
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    """Run the scheduler (or print crontab lines / write systemd units); exit 1 when a once-run had failures."""
    from .schedule import run_schedule

    outcomes = run_schedule(args.file, once=args.once, jobs=args.job, crontab=args.crontab,
                            systemd_dir=args.systemd, progress=not args.quiet, poll=args.poll,
                            command=args.qk_command)
    bad = [o for o in outcomes if o.status == "error" or any(not r.ok for r in o.runs)]
    return 1 if bad else 0


def _require_store(uri: str | None, library: str | None) -> None:
    """A report reads the store and never creates it: a missing one is an error naming it (before any kernel)."""
    from quantkit.config import StoreConfig
    from quantkit.store import TickStore

    base = StoreConfig.from_env()
    TickStore(config=StoreConfig(uri=uri or base.uri, library=library or base.library), create=False)


def _pair(raw: str) -> str:
    """One ``Y/X`` pair (several pairs are several arguments)."""
    if "," in raw:
        raise argparse.ArgumentTypeError(f"{raw!r}: one Y/X pair per argument (several pairs: separate them with spaces)")
    return argtypes.pair_list(raw)[0]


def register(subparsers: Any, *, command: Sequence[str] | None = None) -> None:
    """Add the ``report`` and ``schedule`` sub-commands to an argparse sub-parser collection.

    Args:
        subparsers: the object returned by ``parser.add_subparsers()``.
        command: how generated crontab/systemd entries call quantkit
            (default ``[sys.executable, "-m", "quantkit"]``).
    """
    sp = subparsers.add_parser(
        "report", help="run a pair report notebook (papermill) into an output folder with an index",
        description="Run report notebooks with papermill: executed .ipynb + HTML without code in a dated folder, "
                    "and an index.html listing every run. Parameters are checked before any kernel starts.",
    )
    sp.add_argument("pairs", nargs="*", metavar="PAIR", type=_pair,
                    help="Y/X pair(s), e.g. ETHUSDT/BTCUSDT or BTCUSDT_PERP/BTCUSDT (several: a batch; none: "
                         "the configured pair if stored, else the scanner's best)")
    sp.add_argument("--start", type=argtypes.utc_time,
                    help="first bar, inclusive (ISO 8601, UTC, e.g. 2025-06-01 or 2025-06-01T06:00; default: the pair's first stored bar)")
    sp.add_argument("--end", type=argtypes.utc_time,
                    help="end of the range, exclusive (ISO 8601, UTC; default: after the pair's last stored bar)")
    sp.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                    help="report parameter, repeatable (window=240, hedge=kalman, entry_z=2.5, freq=5m, ...)")
    sp.add_argument("--out", help="output folder (default: $QUANTKIT_DATA_DIR/reports)")
    sp.add_argument("--kind", default="pair", help="report kind (default: pair)")
    sp.add_argument("--workers", type=argtypes.positive_int, default=1, help="parallel kernels for several pairs (default 1)")
    sp.add_argument("--store", type=argtypes.store_uri, help="ArcticDB URI (default: QUANTKIT_ARCTIC_URI)")
    sp.add_argument("--library", type=argtypes.library, help="ArcticDB library (default: QUANTKIT_LIBRARY)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_report)

    sp = subparsers.add_parser(
        "schedule", help="run reports on a cron-style schedule (or print crontab / systemd entries)",
        description="Run the reports of a schedule file (TOML or JSON) when due, in UTC. A missed run is caught up "
                    "once; two runs of one job never overlap (lock file).",
    )
    sp.add_argument("file", help="schedule file (.toml or .json)")
    mode = sp.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run what is due now and exit (for cron / systemd)")
    mode.add_argument("--crontab", action="store_true", help="print crontab lines for the schedule and exit")
    mode.add_argument("--systemd", metavar="DIR", help="write systemd .service/.timer units to DIR and exit")
    sp.add_argument("--job", action="append", metavar="NAME", help="with --once: only this job (repeatable)")
    sp.add_argument("--poll", type=argtypes.seconds, default=30.0, help="seconds between checks (default 30)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sp.set_defaults(func=cmd_schedule, qk_command=list(command) if command else None)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m quantkit.reports report|schedule ...``: the two sub-commands on their own."""
    parser = argparse.ArgumentParser(prog="python -m quantkit.reports", description="quantkit reports")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub, command=[sys.executable, "-m", "quantkit.reports"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except (QuantkitError, OSError) as exc:
        print(f"quantkit {args.command}: error: {exc}", file=sys.stderr)
        return 1
