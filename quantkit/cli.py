"""The ``quantkit`` command line. Each sub-command parses its arguments and calls one function.

Errors become one-line messages and exit codes, never tracebacks:

==== ==============================================================
code meaning
==== ==============================================================
0    success
1    a quantkit error (bad data, store failure, ...): message on stderr
2    bad command-line usage (argparse)
75   ``ingest`` stopped because the LMDB store is full: free space or raise ``map_size``, then restart
130  interrupted (Ctrl-C) after a clean shutdown
==== ==============================================================

Sub-commands: ``exchange``, ``ingest``, ``import``, ``symbols``, ``bars``, ``alerts``, ``up``, ``report``,
``schedule`` (from :mod:`quantkit.reports.commands`) and ``serve`` (from :mod:`quantkit.dashboard.commands`).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from quantkit.config import SYNTHETIC_SYMBOLS, Config, FeedConfig, IngestConfig, StoreConfig
from quantkit.errors import ConfigError, QuantkitError

if TYPE_CHECKING:
    from quantkit.exchange import MarketSource

__all__ = ["build_parser", "main"]

log = logging.getLogger("quantkit.cli")


def _store_config(args: argparse.Namespace) -> StoreConfig:
    base = StoreConfig.from_env()
    return StoreConfig(uri=args.store or base.uri, library=args.library or base.library)


def _symbols(raw: str | None, default: Sequence[str]) -> tuple[str, ...]:
    if not raw:
        return tuple(default)
    syms = tuple(s.strip().upper() for s in raw.split(",") if s.strip())
    if not syms:
        raise ConfigError("--symbols", raw, "expected a comma-separated list such as BTCUSDT,ETHUSDT")
    return syms


def _make_source(spec: str, *, speed: float, seed: int, loop: bool, rate: float | None = None) -> "MarketSource":
    """The exchange's source for a CLI spec; ``rate`` scales the synthetic market to that many ticks/s in all."""
    from quantkit.exchange import SyntheticMarket, source_from_spec

    if rate is not None:
        if spec != "synthetic":
            raise ConfigError("--rate", rate, "only applies to --source synthetic")
        import inspect

        default_rates = inspect.signature(SyntheticMarket).parameters["trade_rates"].default
        scale = rate / sum(default_rates)
        return SyntheticMarket(seed, speed=speed, trade_rates=tuple(r * scale for r in default_rates))  # type: ignore[arg-type]
    return source_from_spec(spec, speed=speed, seed=seed, loop=loop)


# ---------------------------------------------------------------------------------------------- commands
def cmd_exchange(args: argparse.Namespace) -> int:
    """Run the local Binance-protocol exchange in the foreground until Ctrl-C or SIGTERM."""
    from quantkit.exchange import LocalExchange

    source = _make_source(args.source, speed=args.speed, seed=args.seed, loop=args.loop, rate=args.rate)
    exchange = LocalExchange(source, host=args.host, port=args.port).start()
    print(f"quantkit exchange: {source!r} on {exchange.url} (WebSocket {exchange.ws_url})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if exchange.done.is_set() and not args.linger:
                break
    except KeyboardInterrupt:
        return 130
    finally:
        exchange.stop()
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest a feed into the store until interrupted (or until a finite replay is fully stored)."""
    from quantkit.ingest import Ingestor

    store_cfg = _store_config(args)
    source = args.source
    exchange = None
    if source in ("binance", "binance-futures"):
        symbols = _symbols(args.symbols, ("BTCUSDT", "ETHUSDT"))
        feed = FeedConfig.for_source(source, symbols)
    elif args.exchange_url:
        symbols = _symbols(args.symbols, SYNTHETIC_SYMBOLS)
        feed = FeedConfig.for_source("local", symbols, local_url=args.exchange_url, market=args.market)
    else:
        from quantkit.exchange import LocalExchange

        src = _make_source(source, speed=args.speed, seed=args.seed, loop=args.loop, rate=args.rate)
        symbols = _symbols(args.symbols, getattr(src, "symbols", SYNTHETIC_SYMBOLS))
        market = getattr(src, "market", "spot")
        FeedConfig.for_source("local", symbols, market=market)  # validate before starting anything
        exchange = LocalExchange(src, host="127.0.0.1", port=args.port).start()
        feed = FeedConfig.for_source("local", symbols, local_url=exchange.url, market=market)
    ingest_cfg = IngestConfig.from_env()
    ingestor = Ingestor(feed, store_cfg, config=ingest_cfg).start()
    from quantkit.dashboard.live.status_file import StatusFileWriter

    # a heartbeat file (<QUANTKIT_DATA_DIR>/ingest_status.json) lets dashboards in other processes show feed status
    heartbeat = StatusFileWriter(lambda: ingestor.stats).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interrupted = False
    try:
        last = time.monotonic()
        while not stop.wait(0.2):
            if exchange is not None and exchange.done.is_set() and ingestor.flush(timeout=5.0):
                # a finite replay was sent in full and everything accepted is stored
                time.sleep(0.5)
                if ingestor.flush(timeout=5.0):
                    break
            if ingestor.stats.restart_required:
                # LMDB map full / disk full: nothing more may be written from this process (ArcticDB can
                # crash writing to, or even exiting from, that environment). Everything stored is intact;
                # restart with more room and the ingest resumes from the store and backfills the outage.
                heartbeat.write_once()
                print(ingestor.stats, file=sys.stderr)
                print(f"quantkit ingest: error: {ingestor.stats.last_error}; free space or raise map_size, then restart", file=sys.stderr)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(75)  # EX_TEMPFAIL, skipping interpreter teardown on purpose
            if args.stats_every and time.monotonic() - last >= args.stats_every:
                print(ingestor.stats, flush=True)
                last = time.monotonic()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        try:
            final = ingestor.stop()
        finally:
            heartbeat.stop()
            if exchange is not None:
                exchange.stop()
    print(final, flush=True)
    return 130 if interrupted else 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import trades CSVs, raw captures or candle CSVs into the store."""
    from quantkit.store import TickStore, import_files

    store = TickStore(config=_store_config(args))
    report = import_files(store, [Path(p) for p in args.paths], symbol=args.symbol, progress=not args.quiet)
    print(report)
    return 0


def cmd_symbols(args: argparse.Namespace) -> int:
    """List the stored symbols with their time range and counts."""
    from quantkit.store import TickStore

    frame = TickStore(config=_store_config(args)).symbols()
    print(frame.to_string(index=False) if len(frame) else "(no symbols)")
    return 0


def cmd_bars(args: argparse.Namespace) -> int:
    """Print bars of one symbol."""
    from quantkit.store import TickStore

    frame = TickStore(config=_store_config(args)).bars(args.symbol, args.freq, args.start, args.end)
    print(frame.tail(args.tail).to_string() if len(frame) else "(no bars)")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """Evaluate alert rules on pairs from the store, headless, logging and persisting alerts until Ctrl-C."""
    from quantkit.alerts import run_monitors

    pairs = [p.strip().upper() for p in args.pairs.split(",") if p.strip()]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        fired = run_monitors(
            pairs,
            store=_store_config(args),
            bar=args.bar,
            window=args.window,
            method=args.method,
            z_entry=args.z_entry,
            z_exit=args.z_exit,
            corr_floor=args.corr_floor,
            persist=not args.no_persist,
            stop=stop,
            duration_s=args.duration,
        )
    except KeyboardInterrupt:
        return 130
    print(f"quantkit alerts: {fired} alert(s) raised", flush=True)
    return 0


def repo_root() -> Path | None:
    """The source checkout holding ``notebooks/`` and ``jupyter_config/``, if quantkit runs from one."""
    here = Path(__file__).resolve().parents[1]
    if (here / "notebooks").is_dir() and (here / "jupyter_config").is_dir():
        return here
    cwd = Path.cwd()
    if (cwd / "notebooks").is_dir() and (cwd / "jupyter_config").is_dir():
        return cwd
    return None


def cmd_up(args: argparse.Namespace) -> int:
    """The main job: local exchange + ingest in a child process, JupyterLab on the live dashboard."""
    root = repo_root()
    if root is None:
        raise ConfigError("cwd", str(Path.cwd()), "run `quantkit up` from the quantkit checkout (needs notebooks/ and jupyter_config/)")
    cfg = Config.from_env()
    store_cfg = _store_config(args)
    if store_cfg.uri.startswith("lmdb://"):
        Path(store_cfg.uri[len("lmdb://") :].split("?", 1)[0]).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["QUANTKIT_ARCTIC_URI"] = store_cfg.uri
    env["QUANTKIT_LIBRARY"] = store_cfg.library
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(root / "jupyter_config"), env.get("JUPYTER_CONFIG_PATH")]))
    children: list[subprocess.Popen[bytes]] = []
    ingest_cmd = [sys.executable, "-m", "quantkit", "ingest", "--source", args.source, "--stats-every", "0"]
    if args.symbols:
        ingest_cmd += ["--symbols", args.symbols]
    if args.source not in ("binance", "binance-futures"):
        ingest_cmd += ["--speed", str(args.speed), "--port", str(args.exchange_port), "--loop"]
    if args.no_ingest:
        ingest_cmd = []
    lab_cmd = [
        sys.executable, "-m", "jupyter", "lab",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.port={args.port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.open_browser={'False' if args.no_browser else 'True'}",
    ]  # fmt: skip
    if args.token is not None:
        lab_cmd.append(f"--IdentityProvider.token={args.token}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lab_cmd.append("--allow-root")
    if shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None and not args.no_lab:
        raise ConfigError("jupyter", "missing", "JupyterLab is not installed in this environment: pip install -e .")
    try:
        if ingest_cmd:
            children.append(subprocess.Popen(ingest_cmd, env=env, start_new_session=True))
            print(f"quantkit: ingest ({args.source}) -> {store_cfg.library} @ {store_cfg.uri}", flush=True)
        if not args.no_lab:
            children.append(subprocess.Popen(lab_cmd, env=env, cwd=root, start_new_session=True))
            print(f"quantkit: JupyterLab on http://127.0.0.1:{args.port}/lab/tree/notebooks/live_dashboard.ipynb", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while not stop.wait(0.5):
            for child in children:
                if child.poll() is not None:
                    what = " ".join(str(a) for a in list(child.args)[:4])  # type: ignore[arg-type]
                    raise QuantkitError(f"{what} exited with code {child.returncode}")
    except KeyboardInterrupt:
        return 130
    finally:
        _stop_children(children)
    return 0


def _stop_children(children: list[subprocess.Popen[bytes]], timeout: float = 20.0) -> None:
    for child in children:
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``quantkit`` command."""
    p = argparse.ArgumentParser(prog="quantkit", description="Pairs-trading research on crypto trade ticks.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    def store_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--store", help="ArcticDB URI (default: QUANTKIT_ARCTIC_URI or lmdb://~/.quantkit/arctic)")
        sp.add_argument("--library", help="ArcticDB library (default: QUANTKIT_LIBRARY or quantkit)")

    def source_args(sp: argparse.ArgumentParser, default_port: int) -> None:
        sp.add_argument("--speed", type=_positive_float, default=1.0, help="replay/synthetic speed factor; 'inf' = max (default 1)")
        sp.add_argument("--port", type=int, default=default_port, help=f"local exchange port (default {default_port}; 0 = any free)")
        sp.add_argument("--seed", type=int, default=0, help="synthetic market seed (default 0)")
        sp.add_argument("--loop", action="store_true", help="loop a replay, shifting ids and times to stay monotonic")
        sp.add_argument("--rate", type=_positive_float, help="synthetic only: total ticks/s across symbols at speed 1 (default ~79)")

    sp = sub.add_parser("exchange", help="run the local Binance-protocol exchange")
    sp.add_argument("--source", default="synthetic", help="synthetic (default) or replay:PATH[,PATH...]")
    sp.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sp.add_argument("--linger", action="store_true", help="keep serving REST history after a finite replay ends")
    source_args(sp, 9443)
    sp.set_defaults(func=cmd_exchange)

    sp = sub.add_parser("ingest", help="stream trades into the store")
    sp.add_argument(
        "--source",
        default=os.environ.get("QUANTKIT_SOURCE") or "synthetic",
        help="synthetic (default: embedded exchange), replay:PATH[,PATH...], binance (live spot), binance-futures (live USD-M)",
    )
    sp.add_argument("--symbols", help="comma-separated symbols (default: all of the source's)")
    sp.add_argument("--exchange-url", help="use an already running local exchange at http://host:port")
    sp.add_argument("--market", default="spot", choices=["spot", "futures"], help="market of --exchange-url (default spot)")
    sp.add_argument("--stats-every", type=float, default=5.0, help="print stats every N seconds (0 = never)")
    store_args(sp)
    source_args(sp, 0)
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("import", help="import trades CSVs, raw captures or candle CSVs")
    sp.add_argument("paths", nargs="+", help="files to import (.csv, .csv.gz, raw capture .gz)")
    sp.add_argument("--symbol", help="symbol to store under (default: from the file name or content)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    store_args(sp)
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("symbols", help="list stored symbols")
    store_args(sp)
    sp.set_defaults(func=cmd_symbols)

    sp = sub.add_parser("bars", help="print bars of a stored symbol")
    sp.add_argument("symbol")
    sp.add_argument("--freq", default="1m", help="bar size: 1s, 1m, 5m, 1h, ... (default 1m)")
    sp.add_argument("--start", help="start time (UTC), e.g. 2024-08-08T23:55")
    sp.add_argument("--end", help="end time (UTC)")
    sp.add_argument("--tail", type=int, default=20, help="rows to print (default 20)")
    store_args(sp)
    sp.set_defaults(func=cmd_bars)

    sp = sub.add_parser("alerts", help="evaluate alert rules on stored pairs, headless (log + persist alerts)")
    sp.add_argument("--pairs", required=True, help="comma-separated Y/X pairs, e.g. SYNAUSDT/SYNBUSDT")
    sp.add_argument("--bar", default="1s", help="bar size (default 1s)")
    sp.add_argument("--window", type=int, default=300, help="rolling window in bars (default 300)")
    sp.add_argument("--method", default="ols", choices=["ols", "huber", "kalman"], help="hedge method (default ols)")
    sp.add_argument("--z-entry", type=float, default=2.0, help="|z| that fires (default 2.0)")
    sp.add_argument("--z-exit", type=float, default=0.5, help="|z| that re-arms (default 0.5)")
    sp.add_argument("--corr-floor", type=float, default=0.3, help="minimum return correlation (default 0.3)")
    sp.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    sp.add_argument("--no-persist", action="store_true", help="log alerts only, do not write them to the store")
    store_args(sp)
    sp.set_defaults(func=cmd_alerts)

    sp = sub.add_parser("up", help="main job: local exchange + ingest + JupyterLab on the live dashboard")
    sp.add_argument("--source", default=os.environ.get("QUANTKIT_SOURCE") or "synthetic", help="as for ingest (default synthetic)")
    sp.add_argument("--symbols", help="comma-separated symbols (default: the source's)")
    sp.add_argument("--speed", type=_positive_float, default=1.0, help="synthetic/replay speed (default 1)")
    sp.add_argument("--exchange-port", type=int, default=0, help="local exchange port (default: any free)")
    sp.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    sp.add_argument("--token", help="JupyterLab token (default: Jupyter generates one)")
    sp.add_argument("--no-browser", action="store_true", help="do not open a browser")
    sp.add_argument("--no-ingest", action="store_true", help="only JupyterLab (ingest runs elsewhere)")
    sp.add_argument("--no-lab", action="store_true", help="only exchange + ingest")
    store_args(sp)
    sp.set_defaults(func=cmd_up)

    from quantkit.dashboard.commands import register as register_serve
    from quantkit.reports.commands import register as register_reports

    register_reports(sub)  # report, schedule
    register_serve(sub)  # serve
    return p


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be > 0")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``quantkit`` console script. Returns the exit code."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:  # websockets' per-connection lines only with -vv
        logging.getLogger("quantkit.exchange.wire").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except QuantkitError as exc:
        print(f"quantkit {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"quantkit {args.command}: error: {exc}", file=sys.stderr)
        return 1
