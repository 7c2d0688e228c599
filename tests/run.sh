#!/usr/bin/env bash
# Set up everything the test suite needs, then run it. Idempotent; safe on a clean clone.
#   bash tests/run.sh            # the whole suite
#   bash tests/run.sh -k store   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "tests/run.sh: creating .venv with $PY"
  "$PY" -m venv .venv
fi

# Python dependencies: reinstall only when pyproject.toml changed.
stamp=".venv/.quantkit-test-deps"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "tests/run.sh: installing quantkit[test] into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  echo "$want" > "$stamp"
fi

# Browser for real-browser tests: Debian's chromium (never a downloaded browser build).
if [ ! -x /usr/bin/chromium ]; then
  echo "tests/run.sh: installing Debian chromium"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# A kernel named python3 that runs this venv's interpreter (papermill and Voila use it).
.venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (quantkit)" >/dev/null

export PYTHONHASHSEED=0
# One BLAS thread per process: on 2 shared cores, threaded BLAS on small arrays is far slower under contention.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
# Two workers (one per core), a test file per worker at a time (module fixtures stay whole): most tests wait on
# subprocesses, sockets and browsers, so the suite takes ~9 min instead of ~15 serially. TEST_WORKERS=0: serial.
workers="${TEST_WORKERS:-2}"
case " $* " in *" -n "*|*" -n="*|*" -p no:xdist "*) workers=0 ;; esac
if [ "$workers" != "0" ]; then
  set -- -n "$workers" --dist loadfile "$@"
fi
exec .venv/bin/python -m pytest "$@"
