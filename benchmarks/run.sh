#!/usr/bin/env bash
# Run every benchmark script (one per area) with the test venv; figures go to stdout and benchmarks/_work/.
#   bash benchmarks/run.sh            # full size (takes a while: 5M-tick and 1M-bar runs)
#   bash benchmarks/run.sh --quick    # small sizes, a smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash tests/run.sh --collect-only -q >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,bench]"
mkdir -p benchmarks/_work
for script in benchmarks/exchange.py benchmarks/feed.py benchmarks/ingest.py benchmarks/store.py benchmarks/download.py benchmarks/analytics.py benchmarks/backtest.py benchmarks/reports.py benchmarks/live.py benchmarks/dashboard.py benchmarks/voila.py benchmarks/fuzz_feed.py benchmarks/faults.py benchmarks/s3.py; do
  [ -f "$script" ] || continue
  echo "=== $script $*"
  .venv/bin/python "$script" "$@" | tee "benchmarks/_work/$(basename "$script" .py).txt"
done
