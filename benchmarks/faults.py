"""The fault campaign: every fault of the issue injected into the real exchange -> feed -> ingest -> store path.

One command runs it all and prints, per fault: faults injected, whether the ingest survived, ticks
published, ticks stored, ticks lost (must be 0; ids the store records as unfilled gaps are counted
apart), duplicates (must be 0), reconnects, trades recovered over REST, rejected messages, seconds.
Then: ``kill -9`` of the ingest process (``--kills`` times, the store verified after every kill),
the store filling up (LMDB ``map_size``), one writer with ``--readers`` reader processes for
``--minutes``, and two ingest processes sharded by symbol on S3 (moto, in its own process).

Every figure is measured in this run (tests/_support/campaign.py compares the store with the
exchange's own history); nothing is assumed.

Usage:
    python benchmarks/faults.py                      # full: 20 s per fault, 10 kills, 10 min of readers
    python benchmarks/faults.py --quick              # a few minutes: 3 s per fault, 3 kills, 20 s of readers
    python benchmarks/faults.py --only faults,kill --seconds 10 --store s3
"""

from __future__ import annotations

import argparse
import logging
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test harness: tests/_support/campaign.py, faults.py, s3.py

PARTS = ("faults", "kill", "full", "readers", "s3")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short run (3 s per fault, 3 kills, 20 s of readers)")
    ap.add_argument("--seconds", type=float, default=None, help="seconds of faults per scenario (default 20; quick 3)")
    ap.add_argument("--kills", type=int, default=None, help="kill -9 count (default 10; quick 3)")
    ap.add_argument("--minutes", type=float, default=None, help="minutes of 1 writer + N readers (default 10; quick 0.33)")
    ap.add_argument("--readers", type=int, default=8, help="reader processes (default 8)")
    ap.add_argument("--speed", type=float, default=20.0, help="market speed factor (default 20: ~400-1,600 trades/s)")
    ap.add_argument("--store", choices=("lmdb", "s3"), default="lmdb", help="back-end of the fault scenarios")
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {','.join(PARTS)}")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 20.0)
    kills = args.kills if args.kills is not None else (3 if args.quick else 10)
    minutes = args.minutes if args.minutes is not None else (20 / 60 if args.quick else 10.0)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        ap.error(f"--only: unknown part(s) {sorted(unknown)}; choose from {PARTS}")
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    from _support.campaign import (
        STANDARD_SCENARIOS,
        format_table,
        run_concurrency,
        run_kill_scenario,
        run_scenario,
        run_sharded,
        run_store_full_scenario,
    )

    print(f"# quantkit fault campaign — {time.strftime('%Y-%m-%d %H:%M:%S')}, {platform.platform()}, "
          f"python {platform.python_version()}, {shutil.os.cpu_count()} CPUs (shared)")
    print(f"# market: synthetic, 4 symbols, speed {args.speed:g}; faults on for {seconds:g} s per scenario, then 1 s "
          f"clean; fault scenarios on {args.store}; seed {args.seed}\n", flush=True)
    work = Path(tempfile.mkdtemp(prefix="qk-faults-"))
    moto = None
    results = []
    failures = 0
    try:
        if args.store == "s3" or "s3" in parts:
            from _support.s3 import MotoServer

            moto = MotoServer()
        if "faults" in parts:
            for i, sc in enumerate(STANDARD_SCENARIOS):
                uri = moto.uri(moto.new_bucket("faults")) if (args.store == "s3" and moto) else f"lmdb://{work / f's{i}'}"
                r = run_scenario(sc, uri, seconds=seconds, speed=args.speed, seed=args.seed + i, catch_up_timeout=180.0)
                results.append(r)
                print(f"  {r.name}: {'survived' if r.survived else 'FAILED ' + '; '.join(r.notes)}", flush=True)
        if "kill" in parts:
            r = run_kill_scenario(work / "kill", kills=kills, speed=args.speed, seed=args.seed, min_wait=0.5, max_wait=4.0,
                                  timeout=300.0)
            results.append(r)
            print(f"  {r.name}: {'survived' if r.survived else 'FAILED ' + '; '.join(r.notes)} "
                  f"({r.stats.get('checks_after_kill')} checks after kills)", flush=True)
        if "full" in parts:
            r = run_store_full_scenario(work / "full", map_size="2MB", speed=args.speed, seed=args.seed, timeout=300.0)
            results.append(r)
            print(f"  {r.name}: {'survived' if r.survived else 'FAILED ' + '; '.join(r.notes)}", flush=True)
        sharded = None
        if "s3" in parts and moto is not None:
            sharded = run_sharded(moto.uri(moto.new_bucket("sharded")), seconds=max(10.0, seconds), readers=2,
                                  speed=args.speed, seed=args.seed, timeout=300.0)
            results.append(sharded[0])
            print(f"  S3 {sharded[0].name}: {'survived' if sharded[0].survived else 'FAILED ' + '; '.join(sharded[0].notes)}",
                  flush=True)
        if results:
            print("\n## Faults survived: store vs exchange after each run\n")
            print(format_table(results))
            print("\nlost = published ids missing from the store and not recorded as an unfilled gap; "
                  "unfilled (recorded) = ids recorded in store.gaps() as not backfillable.")
            for r in results:
                if r.notes:
                    print(f"  {r.name}: " + "; ".join(r.notes))
            failures += sum(not r.survived for r in results)
        if sharded is not None:
            rd = sharded[1]
            print(f"\nS3 sharded run: {len(rd.versions)} readers, {rd.reads:,} reads in {rd.seconds:g} s, "
                  f"{len(rd.errors)} errors, {len(rd.regressions)} regressions")
        if "readers" in parts:
            print(f"\n## 1 writer (prune + compact every 5 appends) + {args.readers} reader processes, "
                  f"{minutes:g} min, LMDB\n", flush=True)
            c = run_concurrency(f"lmdb://{work / 'readers'}", seconds=minutes * 60, readers=args.readers,
                                speed=args.speed, seed=args.seed, maintain_every=5, timeout=600.0)
            print(f"reads: {c.reads:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(c.by_kind.items()))}); "
                  f"read errors: {len(c.errors)}; versions/counts/ids going backwards: {len(c.regressions)}; "
                  f"ticks stored meanwhile: {c.stored:,}; highest version seen: {c.max_version:,}")
            for e in (c.errors + c.regressions)[:10]:
                print(f"  {e}")
            failures += 0 if c.ok else 1
    finally:
        if moto is not None:
            moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'ALL SURVIVED' if failures == 0 else f'{failures} PART(S) FAILED'}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        sys.exit(main())
