"""The ``quantkit`` command line. Each sub-command parses its arguments and calls one function.

Every bad input gets one line on stderr and a non-zero exit code, never a traceback. Exit codes:

==== ==============================================================
code meaning
==== ==============================================================
0    success: everything was done and stored (rows already stored count as done)
1    error: a quantkit error, a file that could not be imported (missing, empty, unreadable,
     unrecognised, spot/futures conflict), a missing store for a read-only command, a value the
     data cannot serve (e.g. ``bars --freq 1s`` on a candle-only symbol)
2    bad command-line usage: an unknown option or a malformed value (argparse)
3    partly done: some rows were refused (bad rows, conflicts with stored data, out of order), a
     damaged compressed file was read only up to where it broke, or a finite replay's trades are
     missing from the store after ``ingest``
75   ``ingest`` stopped because the LMDB store is full: free space or raise ``map_size``, then restart
130  interrupted (Ctrl-C) after a clean shutdown
==== ==============================================================

Options mean the same in every sub-command (:mod:`quantkit.argtypes`): ``--start`` is inclusive and
``--end`` exclusive (ISO 8601, UTC); ``--source`` takes the values of ``QUANTKIT_SOURCE``
(:data:`quantkit.config.SOURCES`); ``-v`` works before or after the sub-command. Read-only commands
(``symbols``, ``bars``, ``alerts``, ``report``) never create a store: a missing one is an error
naming it.

Sub-commands: ``exchange``, ``ingest``, ``import``, ``download``, ``symbols``, ``bars``, ``alerts``, ``up``, ``report``,
``schedule`` (from :mod:`quantkit.reports.commands`) and ``serve`` (from :mod:`quantkit.dashboard.commands`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, NoReturn, Sequence

from quantkit import argtypes
from quantkit.config import Config, FeedConfig, IngestConfig, StoreConfig
from quantkit.errors import ConfigError, QuantkitError
from quantkit.symbols import parse_symbols

if TYPE_CHECKING:
    from quantkit.store import ImportReport, TickStore

__all__ = ["build_parser", "main"]

log = logging.getLogger("quantkit.cli")

#: History ``quantkit up`` backfills before going live: the live dashboard's default window is
#: 120 bars of 1 s and its z-score needs two windows (hedge, then z) before its first point;
#: 10 minutes draws every panel (spread, z, hedge ratio, correlation, tests) at the first render.
DEFAULT_HISTORY = "10m"


def _store_config(args: argparse.Namespace) -> StoreConfig:
    base = StoreConfig.from_env()
    return StoreConfig(uri=args.store or base.uri, library=args.library or base.library)


def _existing_store(args: argparse.Namespace) -> "TickStore":
    """The store of ``--store``/``--library`` for reading only: never created (missing: StoreNotFoundError)."""
    from quantkit.store import TickStore

    return TickStore(config=_store_config(args), create=False)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _symbols(raw: str | None, default: Sequence[str]) -> tuple[str, ...]:
    if not raw:
        return tuple(default)
    try:
        syms = parse_symbols(raw)
    except ValueError as exc:
        raise ConfigError("--symbols", raw, str(exc)) from None
    if not syms:
        raise ConfigError("--symbols", raw, "expected a comma-separated list such as BTCUSDT,ETHUSDT")
    return syms


def _by_market(symbols: Sequence[str], default: str) -> dict[str, tuple[str, ...]]:
    """Exchange symbols per market: a contract name (``BTCUSDT_PERP``) is the futures market's, a plain name ``default``'s."""
    from quantkit.symbols import parse_symbol

    out: dict[str, list[str]] = {}
    for raw in symbols:
        sym = parse_symbol(raw)
        if sym.stream is not None:
            raise ConfigError("--symbols", raw, "the feed subscribes trade streams: give the name without @stream")
        out.setdefault(sym.market or default, []).append(sym.exchange_symbol)
    return {m: tuple(dict.fromkeys(v)) for m, v in out.items()}


def _check_served(groups: Mapping[str, Sequence[str]], served: Iterable[str], what: str) -> None:
    """A ConfigError when ``groups`` (see :func:`_by_market`) asks for a market that ``what`` does not serve."""
    from quantkit.symbols import stored_name

    markets = set(served)
    for m, syms in groups.items():
        if m not in markets:
            names = ",".join(stored_name(s, m) for s in syms)
            raise ConfigError("--symbols", names, f"{what} serves the {'/'.join(sorted(markets))} market, not {m} "
                              "(a _PERP name is a perpetual: the synthetic source and binance serve both)")


# ---------------------------------------------------------------------------------------------- commands
def cmd_exchange(args: argparse.Namespace) -> int:
    """Run the local Binance-protocol exchange in the foreground until Ctrl-C or SIGTERM.

    A finite replay is held until its first subscriber (``--no-hold``: start at once); once it has
    been published in full the exchange keeps serving (status, REST backfill) until its clients
    have left, then exits 0 (``--linger``: keep serving until stopped).
    """
    from quantkit.exchange import LocalExchange, source_from_spec

    source = source_from_spec(args.source, speed=args.speed, seed=args.seed, loop=args.loop, rate=args.rate,
                              history_s=args.history)
    if args.after_store:  # continue after what that store holds, as `ingest` does with its own exchange
        from quantkit.ingest import stored_positions
        from quantkit.store import TickStore

        positions = stored_positions(TickStore(config=_store_config(args)), source.symbols, market=source.market)
        if positions:
            source.continue_after(  # type: ignore[attr-defined]
                {s: p.last_id for s, p in positions.items()}, max(p.last_ms for p in positions.values()),
                {s: p.last_price for s, p in positions.items()},
            )
    exchange = LocalExchange(
        source, host=args.host, port=args.port, hold_until_subscribed=False if args.no_hold else None,
        rate_limits=not args.no_rate_limits,
    ).start()
    print(f"quantkit exchange: {source!r} on {exchange.url} (WebSocket {exchange.ws_url})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    done_at: float | None = None
    idle_since: float | None = None
    seen = False  # a WebSocket client has connected
    try:
        while not stop.wait(0.2):
            connected = exchange.stats()["connections"] > 0
            seen = seen or connected
            if not exchange.done.is_set() or args.linger:
                continue
            now = time.monotonic()
            done_at = done_at or now
            idle_since = None if connected else (idle_since or now)
            # clients finish reading, back-filling and checking what they stored, then leave; a replay
            # published before any client came (--no-hold) waits up to 2 minutes for one
            if (seen and idle_since is not None and now - idle_since >= 1.0) or now - done_at >= 120.0:
                break
    except KeyboardInterrupt:
        return 130
    finally:
        exchange.stop()
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest a feed into the store until interrupted, for ``--duration`` seconds, or to the end of a finite replay.

    A finite replay (run here, or a local exchange at ``--exchange-url``) ends the ingest once the exchange
    has published it all: exit 0 when the store holds every trade it published, 3 when some are missing.

    Symbols are stored names (:mod:`quantkit.symbols`): a ``_PERP`` name is the USD-M perpetual, so
    ``--symbols BTCUSDT,BTCUSDT_PERP`` ingests a coin's spot and perpetual in one process (``binance``:
    the spot and USD-M feeds; ``synthetic``: a local exchange per market, the perpetual tracking its
    spot, see :meth:`~quantkit.exchange.SyntheticMarket.perpetual`). A futures source's plain names
    are its perpetuals' (``--source binance-futures --symbols BTCUSDT`` stores ``BTCUSDT_PERP``).
    """
    from quantkit.ingest import Ingestor, missing_trades, stored_positions
    from quantkit.store import TickStore
    from quantkit.symbols import stored_name

    store_cfg = _store_config(args)
    source = args.source
    exchange = None  # the local exchange of a finite source run by this process
    exchanges = []  # every local exchange run by this process (one per market)
    remote = None  # what a running exchange at --exchange-url says it serves
    finite = False
    finite_market = "spot"  # the market of the finite source
    backfill_from: dict[str, int] = {}
    history_s = float(getattr(args, "history", 0.0) or 0.0)
    since_ms = int(time.time() * 1000 - history_s * 1000) if history_s else None  # warm start: the last --history
    if source in ("binance", "binance-futures"):
        market = "futures" if source == "binance-futures" else "spot"
        if args.market is not None and args.market != market:
            raise ConfigError("--market", args.market, f"--source {source} is the {market} market")
        groups = _by_market(_symbols(args.symbols, ("BTCUSDT", "ETHUSDT")), market)
        cfg = Config.from_env()  # QUANTKIT_WS_URL / _REST_URL: the URLs of the --source market
        feeds = [dataclasses.replace(cfg, source=source).feed(symbols=syms) if m == market
                 else FeedConfig.for_source("binance-futures" if m == "futures" else "binance", syms)
                 for m, syms in groups.items()]
    elif args.exchange_url:
        from quantkit.feed import describe_exchange

        from quantkit.errors import FeedConnectionError

        # ask the exchange (waiting for it if it is not up yet) instead of guessing symbols and market
        try:
            remote = describe_exchange(args.exchange_url, market=args.market)
        except FeedConnectionError as exc:
            print(f"quantkit ingest: waiting for the exchange at {args.exchange_url} ({exc})", file=sys.stderr, flush=True)
            remote = describe_exchange(args.exchange_url, market=args.market, wait=float("inf"))
        groups = _by_market(_symbols(args.symbols, remote.symbols), remote.market)
        _check_served(groups, (remote.market,), f"the exchange at {args.exchange_url}")
        symbols = groups[remote.market]
        unknown = [s for s in symbols if s not in remote.symbols]
        if unknown:
            raise ConfigError(
                "--symbols", ",".join(unknown), f"not listed by the exchange at {args.exchange_url} ({','.join(remote.symbols)})"
            )
        feeds = [FeedConfig.for_source("local", symbols, local_url=args.exchange_url, market=remote.market)]
        finite, finite_market = remote.local and remote.finite, remote.market
        if finite:  # trades published before we subscribed are fetched over REST from the source's first id
            backfill_from = {stored_name(s, remote.market): i for s, i in remote.first_ids.items() if s in symbols}
    else:
        from quantkit.exchange import LocalExchange, source_from_spec

        src = source_from_spec(source, speed=args.speed, seed=args.seed, loop=args.loop, rate=args.rate, history_s=history_s)
        if args.market is not None and args.market != src.market:
            raise ConfigError("--market", args.market, f"{source} is {src.market} data")
        groups = _by_market(_symbols(args.symbols, src.symbols), src.market)
        perpetual = getattr(src, "perpetual", None)
        sources = {src.market: src}
        if "futures" in groups and src.market == "spot" and perpetual is not None:  # synthetic: its perpetual twin
            sources["futures"] = perpetual()
        _check_served(groups, sources, source)
        feeds = []
        for m, syms in groups.items():
            msrc = sources[m]
            FeedConfig.for_source("local", syms, market=m)  # validate before starting anything
            # continue after what the store holds (ids and time), as a real exchange does while a client is away
            positions = stored_positions(TickStore(config=store_cfg), msrc.symbols, market=m)
            if positions:
                msrc.continue_after(  # type: ignore[attr-defined]
                    {s: p.last_id for s, p in positions.items()}, max(p.last_ms for p in positions.values()),
                    {s: p.last_price for s, p in positions.items()},
                )
            if getattr(msrc, "finite", False):
                finite, finite_market = True, m
                backfill_from.update({stored_name(s, m): i for s, i in getattr(msrc, "first_ids", {}).items() if s in syms})
        for m, syms in groups.items():
            msrc = sources[m]
            # held until our feed subscribes: its first trades are not published unseen (with a --history, the
            # past is published at once instead, and the feed fetches it, and what follows, over REST first)
            ex = LocalExchange(msrc, host="127.0.0.1", port=args.port if len(groups) == 1 else 0,
                               hold_until_subscribed=not history_s).start()
            exchanges.append(ex)
            exchange = ex if getattr(msrc, "finite", False) else exchange
            feeds.append(FeedConfig.for_source("local", syms, local_url=ex.url, market=m))
        pasts = []  # where each market's past starts (the twins of a synthetic market share one clock)
        for m in groups:
            msrc = sources[m]
            if history_s and getattr(msrc, "past_published", None) is not None:  # the market's past is on REST first
                msrc.past_published.wait(60.0)  # type: ignore[attr-defined]
                pasts.append(getattr(msrc, "past_start_ms", None))
        since_ms = min((p for p in pasts if p), default=None) or since_ms
    symbols = groups[finite_market] if finite else tuple(s for syms in groups.values() for s in syms)
    stored = [stored_name(s, m) for m, syms in groups.items() for s in syms]
    ingest_cfg = IngestConfig.from_env()
    if getattr(args, "quotes", False):
        feeds = [dataclasses.replace(f, quotes=True) for f in feeds]
    from quantkit.feed import BackfillOptions

    # USD-M historicalTrades asks for an API key; a local exchange takes any (live keys are not handled here)
    options = BackfillOptions(api_key="quantkit-local") if source not in ("binance", "binance-futures") else None
    try:
        ingestor = Ingestor(feeds, store_cfg, config=ingest_cfg, backfill_from=backfill_from or None,
                            backfill_since_ms=since_ms, backfill_options=options).start()
    except BaseException:
        for ex in exchanges:
            ex.stop()
        raise
    from quantkit.ingest.heartbeat import StatusFileWriter

    # a heartbeat file (<QUANTKIT_DATA_DIR>/ingest_status.json) lets dashboards in other processes show feed status
    warm = None
    if since_ms is not None:  # a tqdm bar over the warm start; its state goes into the heartbeat for `quantkit up`
        from quantkit.ingest import WarmStartProgress

        warm = WarmStartProgress(TickStore(config=store_cfg), stored, since_ms, int(time.time() * 1000))

    def beat() -> dict[str, object]:
        doc = ingestor.stats.to_dict()
        if warm is not None:
            doc["warm_start"] = warm.state()
        return doc

    heartbeat = StatusFileWriter(beat).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interrupted = False
    ended: dict[str, dict[str, int]] | None = None  # a finite source's first_ids / last_ids / counts once it ended
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        last = last_poll = unreachable_since = time.monotonic()
        while not stop.wait(0.2):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if warm is not None and not warm.done and warm.poll():
                print(f"quantkit ingest: warm start done in {warm.seconds:,.1f} s "
                      f"({ingestor.stats.backfilled:,} trades backfilled)", flush=True)
                heartbeat.write_once()
            if finite and exchange is not None and exchange.done.is_set():
                ended = exchange.call_in_loop(exchange.status)
                break
            if finite and remote is not None and now - last_poll >= 1.0:
                from quantkit.errors import FeedConnectionError
                from quantkit.feed import describe_exchange

                last_poll = now
                try:
                    remote = describe_exchange(args.exchange_url, market=remote.market, timeout=2.0)
                    unreachable_since = now
                except FeedConnectionError:
                    if now - unreachable_since > 10.0:  # the exchange went away: judge on what it said last
                        ended = {"first_ids": remote.first_ids, "last_ids": remote.last_ids, "counts": remote.counts}
                        break
                else:
                    if remote.done:
                        ended = {"first_ids": remote.first_ids, "last_ids": remote.last_ids, "counts": remote.counts}
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
            if args.stats_every and now - last >= args.stats_every:
                print(ingestor.stats, flush=True)
                last = now
        if ended is not None:  # everything the exchange published is stored, backfilled or reported missing
            ingestor.wait_through({s: i for s, i in ended["last_ids"].items() if s in symbols}, idle_timeout=15.0)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if warm is not None:
            warm.close()
        try:
            final = ingestor.stop()
        finally:
            heartbeat.stop()
            for ex in exchanges:
                ex.stop()
    print(final, flush=True)
    if interrupted:
        return 130
    if ended is not None:
        counts = {s: n for s, n in ended["counts"].items() if s in symbols}
        missing = missing_trades(TickStore(config=store_cfg), ended["first_ids"], ended["last_ids"], counts,
                                 market=finite_market)
        total = sum(counts.values())
        if missing:
            detail = ", ".join(f"{s} {n:,}" for s, n in sorted(missing.items()))
            print(f"quantkit ingest: error: {sum(missing.values()):,} of the {total:,} trades the exchange published "
                  f"are not in the store ({detail})", file=sys.stderr, flush=True)
            return 3
        if total:
            print(f"quantkit ingest: all {total:,} trades the exchange published are in the store", flush=True)
        else:
            print("quantkit ingest: nothing new: the store already holds every trade of this replay", flush=True)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import trades CSVs, raw captures or candle CSVs into the store.

    Exit 0 when every row is stored or already stored, 1 when a file could not be imported at all,
    3 when rows were refused (bad, conflicting with stored data, out of order) or a damaged file was
    read only up to where it broke. Conflicts replace stored rows only with ``--replace``.
    """
    from quantkit.store import TickStore, import_files

    store = TickStore(config=_store_config(args))
    report = import_files(
        store, [Path(p) for p in args.paths], symbol=args.symbol, progress=not args.quiet, replace=args.replace
    )
    return _import_exit_code(report, "import")


def _import_exit_code(report: "ImportReport", command: str) -> int:
    """Print an import's outcome once (summary on stdout, one stderr line per failure) and return its exit code."""
    failed = report.errors
    if not report.files:
        print(f"quantkit {command}: error: no data files to import", file=sys.stderr, flush=True)
        return 1
    if len(failed) < len(report.files):
        print(report, flush=True)
    for f in failed:
        where = "" if f.path in (f.error or "") else f"{f.path}: "
        print(f"quantkit {command}: error: {where}{_one_line(Exception(f.error))}", file=sys.stderr, flush=True)
    if failed:
        return 1
    if not report.complete:
        refused = len(report.rejected) + report.out_of_order
        first = f" (first: {report.rejected[0]})" if report.rejected else ""
        damaged = [f for f in report.files if f.damage]
        parts = [f"{refused:,} row(s) refused{first}"] if refused else []
        parts += [f"{f.path}: {f.damage}" for f in damaged[:1]]
        hint = "; rows that differ from stored ones are kept out unless --replace" if report.conflicts else ""
        print(f"quantkit {command}: error: {'; '.join(parts)}; stored data left unchanged{hint}", file=sys.stderr, flush=True)
        return 3
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Download Binance's public archive (verified, resumable) and import each file as it arrives."""
    from quantkit.ingest.download import download
    from quantkit.store import TickStore

    try:
        store = None if args.no_import else TickStore(config=_store_config(args))
        report = download(
            args.symbols,
            market=args.market,
            kind=args.kind,
            start=args.start,
            end=args.end,
            interval=args.interval,
            store=store,
            dest=args.dir,
            base_url=args.base_url,
            import_=not args.no_import,
            jobs=args.jobs,
            progress=not args.quiet,
        )
    except ValueError as exc:
        if isinstance(exc, QuantkitError):
            raise
        print(f"quantkit download: error: {exc}", file=sys.stderr)
        return 2
    print(report, flush=True)
    return 0 if report.ok else 1


def cmd_symbols(args: argparse.Namespace) -> int:
    """List the stored symbols with their time range and counts (never creates a store)."""
    frame = _existing_store(args).symbols()
    print(frame.to_string(index=False) if len(frame) else "(no symbols)")
    return 0


def cmd_bars(args: argparse.Namespace) -> int:
    """Print the bars of one symbol whose open time is in ``[--start, --end)`` (never creates a store).

    With a window, every bar of it is printed (``--tail N``: its last N); without one, the last 20.
    Each bar is complete: it holds every trade of its interval, also when ``--end`` cuts it.
    """
    from quantkit.analytics.alignment import read_bars
    from quantkit.store._frames import normalise_interval, to_utc

    start, end = to_utc(args.start, "--start"), to_utc(args.end, "--end")
    if start is not None and end is not None and not start < end:
        raise ConfigError("--end", args.end, f"must be after --start {args.start} (the window is [start, end))")
    store = _existing_store(args)
    normalise_interval(args.freq)  # a bar size the store cannot make is refused as before
    frame = read_bars(store, args.symbol, args.freq, start, end)  # the pair loader's range rule, one place
    window = start is not None or end is not None
    tail = args.tail if args.tail is not None else (None if window else 20)
    if tail is not None:
        frame = frame.tail(tail)
    print(frame.to_string() if len(frame) else "(no bars in the window)" if window else "(no bars)")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """Evaluate alert rules on pairs from the store, headless, logging and persisting alerts until Ctrl-C."""
    from quantkit.alerts import run_monitors

    pairs = list(args.pairs)
    _existing_store(args)  # a mistyped --store is an error, not a new empty store
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


def cmd_up(args: argparse.Namespace) -> int:
    """The main job: local exchange + ingest in a child process, JupyterLab on the live dashboard."""
    from quantkit._files import find_checkout

    root = find_checkout()
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
    ingest_cmd = [sys.executable, "-m", "quantkit", "ingest", "--source", args.source, "--stats-every", "0", "--quotes"]
    if args.symbols:
        ingest_cmd += ["--symbols", args.symbols]
    if args.source not in ("binance", "binance-futures"):
        ingest_cmd += ["--speed", str(args.speed), "--port", str(args.exchange_port), "--loop"]
    if args.history and not args.source.startswith("replay:"):  # a replay is served from its first trade anyway
        ingest_cmd += ["--history", f"{max(1, round(args.history))}s"]
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
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        if ingest_cmd:
            started = time.time()
            children.append(subprocess.Popen(ingest_cmd, env=env, start_new_session=True))
            print(f"quantkit: ingest ({args.source}) -> {store_cfg.library} @ {store_cfg.uri}", flush=True)
            if args.history and not args.no_lab and "--history" in ingest_cmd:
                print(f"quantkit: JupyterLab starts once the last {args.history / 60:g} min are stored", flush=True)
                _wait_for_warm_start(children[-1], env, started, stop)
        if not args.no_lab and not stop.is_set():
            children.append(subprocess.Popen(lab_cmd, env=env, cwd=root, start_new_session=True))
            print(f"quantkit: JupyterLab on http://127.0.0.1:{args.port}/lab/tree/notebooks/live_dashboard.ipynb", flush=True)
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


def _wait_for_warm_start(child: subprocess.Popen[bytes], env: dict[str, str], since: float, stop: threading.Event) -> None:
    """Until the ingest's heartbeat (written after ``since``) says its warm start is done, the child exits, or a stop."""
    from quantkit.ingest.heartbeat import default_status_path, read_status

    path = default_status_path(env)
    while not stop.wait(0.5) and child.poll() is None:
        hb = read_status(path)
        warm = hb.data.get("warm_start")
        if float(hb.data.get("written_at") or 0.0) >= since and isinstance(warm, dict) and warm.get("done"):
            return


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
    p = OneLineParser(prog="quantkit", description="Pairs-trading research on crypto trade ticks.",
                      epilog="Exit codes: 0 done, 1 error, 2 usage, 3 some rows refused or missing, 75 store full, "
                             "130 interrupted.")  # fmt: skip
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    def store_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--store", type=argtypes.store_uri,
                        help="ArcticDB URI (default: QUANTKIT_ARCTIC_URI or lmdb://~/.quantkit/arctic)")
        sp.add_argument("--library", type=argtypes.library, help="ArcticDB library (default: QUANTKIT_LIBRARY or quantkit)")

    def source_args(sp: argparse.ArgumentParser, default_port: int) -> None:
        sp.add_argument("--speed", type=argtypes.positive_float, default=1.0, help="replay/synthetic speed factor; 'inf' = max (default 1)")
        sp.add_argument("--port", type=argtypes.port, default=default_port, help=f"local exchange port (default {default_port}; 0 = any free)")
        sp.add_argument("--seed", type=argtypes.non_negative_int, default=0, help="synthetic market seed (default 0)")
        sp.add_argument("--loop", action="store_true", help="loop a replay, shifting ids and times to stay monotonic")
        sp.add_argument("--rate", type=argtypes.positive_float, help="synthetic only: total ticks/s across symbols at speed 1 (default ~79)")
        sp.add_argument("--history", type=_history, default=0.0, metavar="DURATION",
                        help="warm start: the synthetic market gets a past this long (e.g. 30m, 2h), and an ingest "
                             "backfills the last DURATION over REST before going live (binance too) (default: none)")

    sp = sub.add_parser("exchange", help="run the local Binance-protocol exchange")
    sp.add_argument("--source", type=argtypes.local_source, default="synthetic", help="synthetic (default) or replay:PATH[,PATH...]")
    sp.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sp.add_argument("--linger", action="store_true", help="keep serving after a finite replay ends (default: exit once its clients left)")
    sp.add_argument("--no-hold", action="store_true", help="start a finite replay at once instead of holding it until the first subscriber")
    sp.add_argument("--after-store", action="store_true", help="continue ids and time after the last trades held in --store (a restart)")
    sp.add_argument("--no-rate-limits", action="store_true",
                    help="do not refuse requests over Binance's weight limits (429/418); for benchmarks")
    source_args(sp, 9443)
    store_args(sp)
    sp.set_defaults(func=cmd_exchange)

    sp = sub.add_parser("ingest", help="stream trades into the store")
    sp.add_argument(
        "--source",
        type=argtypes.source,
        help="synthetic (embedded exchange), replay:PATH[,PATH...], binance (live spot), binance-futures (live USD-M) "
             "(default: QUANTKIT_SOURCE or synthetic)",
    )  # fmt: skip
    sp.add_argument("--symbols", type=argtypes.symbol_list, help="comma-separated symbols (default: QUANTKIT_SYMBOLS, else all of the source's)")
    sp.add_argument("--exchange-url", type=argtypes.url, help="use a running exchange at http://host:port (symbols and market are asked of it)")
    sp.add_argument("--market", choices=["spot", "futures"], help="expected market; an error if the source serves the other (default: the source's)")
    sp.add_argument("--stats-every", type=argtypes.non_negative_float, default=5.0, help="print stats every N seconds (0 = never)")
    sp.add_argument("--duration", type=argtypes.seconds, help="stop after N seconds (default: until Ctrl-C or the end of a finite replay)")
    sp.add_argument("--quotes", action="store_true",
                    help="also subscribe each symbol's best bid/ask (@bookTicker) and publish it in the heartbeat "
                         "for the dashboard's quoted spread; trades are unchanged (default: trades only)")
    store_args(sp)
    source_args(sp, 0)
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("import", help="import trades CSVs, raw captures or candle CSVs")
    sp.add_argument("paths", nargs="+", help="files to import (.csv, .csv.gz, raw capture .gz)")
    sp.add_argument("--symbol", type=argtypes.symbol, help="symbol to store under (default: from the file name or content)")
    sp.add_argument("--replace", action="store_true",
                    help="rows that differ from the stored row of their trade id / candle time replace it "
                         "(default: refused as conflicts, exit 3)")  # fmt: skip
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    store_args(sp)
    sp.set_defaults(func=cmd_import)

    from quantkit.feed.archive import ARCHIVE_URL, KINDS, KLINE_INTERVALS

    sp = sub.add_parser("download", help="download Binance's public archive (verified, resumable) into the store")
    sp.add_argument("symbols", type=argtypes.symbol_list, help="comma-separated exchange symbols, e.g. BTCUSDT,ETHUSDT")
    sp.add_argument("--market", required=True, choices=["spot", "um"], help="spot or um (USD-M futures)")
    sp.add_argument("--kind", required=True, choices=list(KINDS), help="trades, aggTrades, klines or fundingRate (um)")
    sp.add_argument("--interval", default="1m", choices=list(KLINE_INTERVALS), help="klines interval (default 1m)")
    sp.add_argument("--start", type=argtypes.utc_time, required=True, help="first day (UTC), e.g. 2024-01-01")
    sp.add_argument("--end", type=argtypes.utc_time, required=True, help="the day after the last day (UTC), exclusive: --start 2024-01-01 --end 2024-02-01 is January")
    sp.add_argument("--base-url", default=ARCHIVE_URL, help=f"archive root or a mirror (default {ARCHIVE_URL})")
    sp.add_argument("--dir", help="local mirror of the archive (default: $QUANTKIT_DATA_DIR/archive)")
    sp.add_argument("--no-import", action="store_true", help="only download and verify")
    sp.add_argument("--jobs", type=argtypes.positive_int, default=4, help="parallel downloads (default 4)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    store_args(sp)
    sp.set_defaults(func=cmd_download)

    sp = sub.add_parser("symbols", help="list stored symbols")
    store_args(sp)
    sp.set_defaults(func=cmd_symbols)

    sp = sub.add_parser("bars", help="print bars of a stored symbol")
    sp.add_argument("symbol", type=argtypes.symbol)
    sp.add_argument("--freq", type=argtypes.bar_size, default="1m", help="bar size: 1s, 1m, 5m, 1h, ... (default 1m)")
    sp.add_argument("--start", type=argtypes.utc_time, help="first bar open time, inclusive (ISO 8601, UTC), e.g. 2024-08-08T23:55")
    sp.add_argument("--end", type=argtypes.utc_time, help="end of the window, exclusive (ISO 8601, UTC)")
    sp.add_argument("--tail", type=argtypes.positive_int,
                    help="print only the last N bars (default: the whole --start/--end window; without one, the last 20)")
    store_args(sp)
    sp.set_defaults(func=cmd_bars)

    sp = sub.add_parser("alerts", help="evaluate alert rules on stored pairs, headless (log + persist alerts)")
    sp.add_argument("--pairs", type=argtypes.pair_list, required=True, help="comma-separated Y/X pairs, e.g. SYNAUSDT/SYNBUSDT")
    sp.add_argument("--bar", type=argtypes.bar_size, default="1s", help="bar size (default 1s)")
    sp.add_argument("--window", type=argtypes.window, default=300, help="rolling window in bars (default 300)")
    sp.add_argument("--method", default="ols", choices=["ols", "huber", "kalman"], help="hedge method (default ols)")
    sp.add_argument("--z-entry", type=argtypes.positive_float, default=2.0, help="|z| that fires (default 2.0)")
    sp.add_argument("--z-exit", type=argtypes.non_negative_float, default=0.5, help="|z| that re-arms (default 0.5)")
    sp.add_argument("--corr-floor", type=argtypes.correlation, default=0.3, help="minimum return correlation, -1..1 (default 0.3)")
    sp.add_argument("--duration", type=argtypes.seconds, help="stop after this many seconds (default: until Ctrl-C)")
    sp.add_argument("--no-persist", action="store_true", help="log alerts only, do not write them to the store")
    store_args(sp)
    sp.set_defaults(func=cmd_alerts)

    sp = sub.add_parser("up", help="main job: local exchange + ingest + JupyterLab on the live dashboard")
    sp.add_argument("--source", type=argtypes.source, help="as for ingest (default: QUANTKIT_SOURCE or synthetic)")
    sp.add_argument("--symbols", type=argtypes.symbol_list, help="comma-separated symbols (default: QUANTKIT_SYMBOLS, else the source's)")
    sp.add_argument("--speed", type=argtypes.positive_float, default=1.0, help="synthetic/replay speed (default 1)")
    sp.add_argument("--exchange-port", type=argtypes.port, default=0, help="local exchange port (default: any free)")
    sp.add_argument("--port", type=argtypes.port, default=8888, help="JupyterLab port (default 8888)")
    sp.add_argument("--token", help="JupyterLab token (default: Jupyter generates one)")
    sp.add_argument("--no-browser", action="store_true", help="do not open a browser")
    sp.add_argument("--no-ingest", action="store_true", help="only JupyterLab (ingest runs elsewhere)")
    sp.add_argument("--no-lab", action="store_true", help="only exchange + ingest")
    sp.add_argument("--history", default=DEFAULT_HISTORY, metavar="DURATION", type=_history,
                    help=f"warm start: backfill the last DURATION before going live, so every dashboard panel is "
                         f"drawn at once (default {DEFAULT_HISTORY}; 0 = none; not for replays)")
    store_args(sp)
    sp.set_defaults(func=cmd_up)

    from quantkit.dashboard.commands import register as register_serve
    from quantkit.reports.commands import register as register_reports

    register_reports(sub)  # report, schedule
    register_serve(sub)  # serve
    for sp in sub.choices.values():  # -v after the sub-command too (the last spelling wins)
        sp.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging (-vv for debug)")
    return p


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit code 2), never a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _history(raw: str) -> float:
    from quantkit.ingest.warmstart import history_seconds

    try:
        return history_seconds(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fill_from_env(args: argparse.Namespace) -> None:
    """Options left unset that the environment provides: ``--source`` (QUANTKIT_SOURCE), ``--symbols`` (QUANTKIT_SYMBOLS)."""
    from quantkit.config import source_from_env, symbols_from_env

    if getattr(args, "source", "") is None:
        args.source = source_from_env()
    if getattr(args, "symbols", "") is None and args.command in ("ingest", "up"):
        env_symbols = symbols_from_env()
        args.symbols = ",".join(env_symbols) if env_symbols else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``quantkit`` console script. Returns the exit code (see the module docstring)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage error (2) or --help (0): argparse has printed its line
        return exc.code if isinstance(exc.code, int) else 2
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:  # websockets' per-connection lines only with -vv
        logging.getLogger("quantkit.exchange.wire").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per REST page otherwise (a warm start's backfill)
    try:
        _fill_from_env(args)
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except (QuantkitError, OSError, ValueError, KeyError) as exc:  # bad values and failures: one line
        print(f"quantkit {args.command}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # a bug: still one line; the traceback only with -vv
        log.debug("unexpected error", exc_info=True)
        print(f"quantkit {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} (run with -vv for details)",
              file=sys.stderr, flush=True)  # fmt: skip
        return 1
