"""Run report notebooks with papermill: the one entry point is :func:`run_report` (and :func:`run_batch`).

A run, in order:

1. parse and check the parameters (:mod:`quantkit.reports.parameters`): bad names,
   malformed values, an empty range, unknown symbols and a range with no bars raise
   :class:`~quantkit.errors.ReportParameterError` **before any kernel starts** and
   write nothing;
2. make the run folder ``<out>/<YYYY-MM-DD>/<slug>_<HHMMSS>/`` and record the run as
   ``running`` in the index;
3. execute the notebook with papermill into ``report.ipynb`` (a fresh kernel, or a
   :class:`~quantkit.reports._kernels.WarmKernel` reused across a batch);
4. export ``report.html`` without code cells, self-contained (no network needed);
5. record ``ok`` -- or ``failed`` with the failing cell, its section and the error, keeping
   the partial notebook (and its HTML) -- and, when failed, raise :class:`ReportFailed`.

Reports only read the store: the notebook opens it and calls read methods.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import nbformat

from quantkit.errors import ReportError, ReportExecutionError, ReportParameterError

from . import registry
from ._html import notebook_to_html
from ._kernels import ENGINE_NAME, WarmKernel
from .index import ReportIndex, ReportRun, default_out_dir, utc_now

__all__ = [
    "CELL_TIMEOUT",
    "ReportFailed",
    "ReportRequest",
    "default_out_dir",
    "execute",
    "prepare",
    "run_batch",
    "run_report",
    "summarize",
]

logger = logging.getLogger("quantkit.reports")

#: Per-cell execution limit in seconds (a cell running longer fails the report).
CELL_TIMEOUT: float = 600.0

_invalid_ids = itertools.count(1)


class ReportFailed(ReportExecutionError):
    """A report notebook raised; the partial notebook is kept and the index says ``failed``.

    Attributes:
        run: the failed run as recorded in the index.
        section: the heading of the notebook section holding the failing cell ("" if none).
        notebook: path of the partial notebook (absolute when the output folder is known).
    """

    def __init__(self, run: ReportRun, out_dir: str | os.PathLike[str] | None = None) -> None:
        e = run.error or {}
        self.run = run
        self.section = str(e.get("section") or "")
        notebook = run.notebook or ""
        if notebook and out_dir is not None:
            notebook = str(Path(out_dir) / notebook)
        super().__init__(e.get("cell"), str(e.get("ename", "Error")), str(e.get("evalue", "")), notebook)

    def __str__(self) -> str:
        return f"{self.run.label}: {self.run.error_line()} (partial notebook: {self.notebook})"


@dataclass(frozen=True)
class ReportRequest:
    """A report to run: its kind and validated parameters (see :func:`prepare`).

    Attributes:
        kind: the registry entry.
        params: the parameter object.
        job: schedule job name (None for a manual run).
        scheduled_for: due time of a scheduled run.
    """

    kind: registry.ReportKind
    params: Any
    job: str | None = None
    scheduled_for: dt.datetime | None = None


class _LazyStore:
    """Opens the store on first use, so report kinds that never read it never open it."""

    def __init__(self, uri: str | None, library: str | None) -> None:
        self._args = (uri, library)
        self._store: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._store is None:
            from .data import open_store

            self._store = open_store(*self._args)
        return getattr(self._store, name)


class _MemoBars:
    """A read-through view of a store that keeps each ``bars(...)`` result: a batch checks many pairs
    sharing legs, and each leg's bars are read once instead of once per pair."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._bars: dict[tuple[Any, ...], Any] = {}

    def bars(self, symbol: str, freq: str = "1m", start: Any = None, end: Any = None) -> Any:
        key = (symbol, freq, str(start), str(end))
        if key not in self._bars:
            self._bars[key] = self._store.bars(symbol, freq, start, end)
        return self._bars[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _open_store_for(params: Any) -> Any:
    return _LazyStore(getattr(params, "store", None), getattr(params, "library", None))


def prepare(
    params: Mapping[str, Any] | Any,
    *,
    kind: str = "pair",
    store: Any = None,
    check: bool = True,
    job: str | None = None,
    scheduled_for: dt.datetime | None = None,
) -> ReportRequest:
    """Parse and check one report's parameters; starts no kernel and writes nothing.

    Args:
        params: a mapping (string values are parsed as on the command line) or a parameter object.
        kind: the report kind (default ``"pair"``).
        store: an open store to check against (default: opened from the parameters, read only).
        check: check against the store (default True).
        job: schedule job name to record.
        scheduled_for: due time to record.

    Raises:
        ReportParameterError: unknown kind or parameter, malformed value, empty range,
            unknown symbol, no data in the range.
    """
    k = registry.get(kind)
    p = k.parse(params)
    if check:
        st = store if store is not None else _open_store_for(p)
        resolve = getattr(p, "resolve", None)
        if resolve is not None:  # open values (pair, range, bar size) are chosen once, here, from the store
            p = resolve(st)
        p.check_store(st)
    return ReportRequest(kind=k, params=p, job=job, scheduled_for=scheduled_for)


def _run_dir(out: Path, slug: str, moment: dt.datetime) -> Path:
    day = out / moment.strftime("%Y-%m-%d")
    day.mkdir(parents=True, exist_ok=True)
    base = f"{slug}_{moment.strftime('%H%M%S')}"
    for i in range(1000):
        path = day / (base if i == 0 else f"{base}-{i + 1}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise ReportError(f"cannot make a run folder for {slug} in {day}")


_PAPERMILL_MARKER = "papermill-error-cell-tag"


def _failure(nb_path: Path, exc: BaseException) -> dict[str, Any]:
    """The failing cell, its section heading, and the error.

    ``cell`` is the 0-based index in the executed notebook not counting the two banner cells
    papermill adds on failure (papermill's own ``cell_index``); ``exec_count`` is its ``In [n]``.
    """
    cell = getattr(exc, "cell_index", None)
    exec_count = getattr(exc, "exec_count", None)
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None)
    if evalue is None:
        lines = str(exc).strip().splitlines()
        evalue = lines[-1] if lines else ""
    section = ""
    try:
        nb = nbformat.read(str(nb_path), as_version=4)
        cells = [c for c in nb.cells if _PAPERMILL_MARKER not in c.get("metadata", {}).get("tags", [])]
        if cell is None:
            cell = next((i for i, c in enumerate(cells)
                         if c.get("metadata", {}).get("papermill", {}).get("status") in ("failed", "running")), None)
        if cell is not None and cell < len(cells):
            exec_count = exec_count if exec_count is not None else cells[cell].get("execution_count")
            for c in reversed(cells[: cell + 1]):
                if c.cell_type == "markdown":
                    heading = next((ln.lstrip("#").strip() for ln in c.source.splitlines() if ln.startswith("#")), "")
                    if heading:
                        section = heading
                        break
    except (OSError, ValueError) as read_exc:
        logger.debug("could not read the partial notebook %s: %s", nb_path, read_exc)
    return {"cell": cell, "exec_count": exec_count, "section": section, "ename": str(ename), "evalue": str(evalue)[:2000]}


def _execute(request: ReportRequest, out: Path, *, kernel: WarmKernel | None, now: Callable[[], dt.datetime],
             kernel_name: str, cell_timeout: float | None, index: ReportIndex) -> ReportRun:
    import papermill as pm

    p = request.params
    started = now()
    folder = _run_dir(out, p.slug(), request.scheduled_for or started)
    nb_path = folder / "report.ipynb"
    html_path = folder / "report.html"
    run = index.record(ReportRun(
        id=folder.relative_to(out).as_posix(),
        kind=request.kind.name,
        label=p.label(),
        parameters=p.to_display(),
        status="running",
        started=started.isoformat(timespec="seconds"),
        notebook=nb_path.relative_to(out).as_posix(),
        job=request.job,
        scheduled_for=request.scheduled_for.isoformat(timespec="minutes") if request.scheduled_for else None,
    ))
    t0 = time.perf_counter()
    error: dict[str, Any] | None = None
    own_kernel = kernel is None
    warm = kernel if kernel is not None else WarmKernel(kernel_name, preload="")
    try:
        # no papermill cwd=: it chdir()s the whole process, which parallel workers must not do
        pm.execute_notebook(
            str(request.kind.template()), str(nb_path), parameters=p.to_notebook(), kernel_name=kernel_name,
            progress_bar=False, log_output=False, execution_timeout=cell_timeout,
            engine_name=ENGINE_NAME, warm_kernel=warm,
        )
    except pm.PapermillExecutionError as exc:
        error = _failure(nb_path, exc)
    except Exception as exc:  # dead kernel, timeout, unreadable template: still a failed run in the index
        warm.shutdown()  # a timed-out or crashed kernel is not reused
        error = _failure(nb_path, exc)
        logger.warning("report %s failed outside a cell: %s", run.id, exc)
    finally:
        if own_kernel:
            warm.shutdown()
    html_rel: str | None = None
    if nb_path.exists():
        try:
            notebook_to_html(nb_path, html_path, title=f"{request.kind.name} report: {p.label()}")
            html_rel = html_path.relative_to(out).as_posix()
        except Exception as exc:  # the notebook is kept; the index says why there is no HTML
            logger.warning("HTML export of %s failed: %s", nb_path, exc)
            if error is None:
                error = {"cell": None, "section": "HTML export", "ename": type(exc).__name__, "evalue": str(exc)}
    run = index.finish(
        run,
        status="failed" if error else "ok",
        finished=now().isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - t0, 3),
        notebook=nb_path.relative_to(out).as_posix() if nb_path.exists() else None,
        html=html_rel,
        error=error,
    )
    if error:
        logger.info("report %s failed: %s", run.id, run.error_line())
    else:
        logger.info("report %s written in %.1f s", run.id, run.duration_s or 0.0)
    return run


def run_report(
    params: Mapping[str, Any] | Any,
    *,
    kind: str = "pair",
    out_dir: str | os.PathLike[str] | None = None,
    store: Any = None,
    kernel: WarmKernel | None = None,
    kernel_name: str = "python3",
    cell_timeout: float | None = CELL_TIMEOUT,
    now: Callable[[], dt.datetime] = utc_now,
) -> ReportRun:
    """Run one report: check parameters, execute the notebook, write .ipynb + HTML, update the index.

    Args:
        params: parameter mapping (strings parsed as ``--param`` values) or a parameter object;
            for ``kind="pair"`` at least ``pair``, ``start``, ``end``.
        kind: registered report kind (default ``"pair"``).
        out_dir: output folder (default ``<QUANTKIT_DATA_DIR>/reports``).
        store: an open store for the parameter check (default: opened from the parameters).
        kernel: a warm kernel to reuse (default: a fresh kernel, stopped afterwards).
        kernel_name: kernelspec (default ``"python3"``).
        cell_timeout: seconds a cell may run (default 600; None = no limit).
        now: clock for the run's date and times (UTC).

    Returns:
        The run as recorded in the index (status ``"ok"``).

    Raises:
        ReportParameterError: bad parameters; nothing was started or written.
        ReportFailed: a cell raised (or the kernel died); the index has a ``failed`` entry naming
            the cell, and the partial notebook is kept.
    """
    request = prepare(params, kind=kind, store=store)
    out = (Path(out_dir) if out_dir is not None else default_out_dir()).resolve()
    run = execute(request, out_dir=out, kernel=kernel, kernel_name=kernel_name, cell_timeout=cell_timeout, now=now)
    if not run.ok:
        raise ReportFailed(run, out)
    return run


def execute(
    request: ReportRequest,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    kernel: WarmKernel | None = None,
    kernel_name: str = "python3",
    cell_timeout: float | None = CELL_TIMEOUT,
    now: Callable[[], dt.datetime] = utc_now,
) -> ReportRun:
    """Execute an already prepared request (no parameter check); returns the run, ok or failed."""
    out = (Path(out_dir) if out_dir is not None else default_out_dir()).resolve()
    index = ReportIndex(out)
    return _execute(request, out, kernel=kernel, now=now, kernel_name=kernel_name, cell_timeout=cell_timeout, index=index)


def _record_invalid(request_params: Mapping[str, Any], kind: str, exc: ReportParameterError, out: Path,
                    now: Callable[[], dt.datetime], job: str | None, due: dt.datetime | None) -> ReportRun:
    moment = now()
    label = str(request_params.get("pair", kind))
    return ReportIndex(out).record(ReportRun(
        id=f"invalid/{moment.strftime('%Y%m%dT%H%M%S%f')}-{next(_invalid_ids):04d}",
        kind=kind, label=label, parameters={k: str(v) for k, v in request_params.items() if k != "store"},
        status="failed", started=moment.isoformat(timespec="seconds"), finished=moment.isoformat(timespec="seconds"),
        duration_s=0.0, error={"cell": None, "section": "parameters", "ename": type(exc).__name__, "evalue": str(exc)},
        job=job, scheduled_for=due.isoformat(timespec="minutes") if due else None,
    ))


def run_batch(
    items: Iterable[Mapping[str, Any] | Any],
    *,
    kind: str = "pair",
    out_dir: str | os.PathLike[str] | None = None,
    workers: int = 1,
    progress: bool = True,
    reuse_kernels: bool = True,
    invalid: str = "raise",
    store: Any = None,
    job: str | None = None,
    scheduled_for: dt.datetime | None = None,
    kernel_name: str = "python3",
    cell_timeout: float | None = CELL_TIMEOUT,
    now: Callable[[], dt.datetime] = utc_now,
) -> list[ReportRun]:
    """Run several reports on ``workers`` parallel kernels, with a progress bar.

    Every item's parameters are checked first; with ``invalid="raise"`` (default) the first bad
    one raises :class:`ReportParameterError` before any kernel starts. With ``invalid="record"``
    bad items get a ``failed`` index entry (section "parameters") and the others run.
    A failing report does not stop the batch: its run is returned with status ``"failed"``.

    Args:
        items: parameter mappings or objects, one per report.
        kind: report kind of every item.
        out_dir: output folder (default ``<QUANTKIT_DATA_DIR>/reports``).
        workers: parallel kernels (>= 1).
        progress: show a tqdm progress bar (on stderr).
        reuse_kernels: each worker keeps one warm kernel for its reports (default True);
            False starts a fresh kernel per report.
        invalid: ``"raise"`` or ``"record"`` (see above).
        store: an open store for the checks (default: opened per parameter set).
        job: schedule job name to record.
        scheduled_for: due time to record.
        kernel_name: kernelspec.
        cell_timeout: seconds a cell may run.
        now: clock.

    Returns:
        The runs in the order of ``items`` (invalid ones included when recorded).

    Raises:
        ReportParameterError: a bad item with ``invalid="raise"``, or ``workers < 1``.
    """
    from tqdm.auto import tqdm

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ReportParameterError("workers", workers, "expected an integer >= 1")
    if invalid not in ("raise", "record"):
        raise ReportParameterError("invalid", invalid, "expected 'raise' or 'record'")
    out = (Path(out_dir) if out_dir is not None else default_out_dir()).resolve()
    raw_items = list(items)
    stores: dict[tuple[Any, Any], Any] = {}
    slots: list[ReportRequest | ReportRun] = []
    for raw in raw_items:
        try:
            k = registry.get(kind)
            p = k.parse(raw)
            key = (getattr(p, "store", None), getattr(p, "library", None))
            st = stores.get(key)
            if st is None:
                st = stores[key] = _MemoBars(store if store is not None else _open_store_for(p))
            slots.append(prepare(p, kind=kind, store=st, job=job, scheduled_for=scheduled_for))
        except ReportParameterError as exc:
            if invalid == "raise":
                raise
            mapping = raw if isinstance(raw, Mapping) else getattr(raw, "to_display", lambda: {})()
            slots.append(_record_invalid(mapping, kind, exc, out, now, job, scheduled_for))
    todo = [(i, s) for i, s in enumerate(slots) if isinstance(s, ReportRequest)]
    results: list[ReportRun | None] = [s if isinstance(s, ReportRun) else None for s in slots]
    tasks: queue.SimpleQueue[tuple[int, ReportRequest]] = queue.SimpleQueue()
    for item in todo:
        tasks.put(item)
    done: queue.SimpleQueue[tuple[int, ReportRun | BaseException]] = queue.SimpleQueue()
    stop = threading.Event()
    # parallel kernels share the cores: cap each one's BLAS threads so they do not oversubscribe
    blas_threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None

    def worker() -> None:
        # each worker thread owns its kernel from start to shutdown (kernel managers stay on one thread)
        warm = WarmKernel(kernel_name, threads=blas_threads) if reuse_kernels else None
        try:
            while not stop.is_set():
                try:
                    i, req = tasks.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((i, execute(req, out_dir=out, kernel=warm, kernel_name=kernel_name,
                                         cell_timeout=cell_timeout, now=now)))
                except BaseException as exc:  # reported by the main thread
                    done.put((i, exc))
        finally:
            if warm is not None:
                warm.shutdown()

    n_threads = min(workers, len(todo))
    threads = [threading.Thread(target=worker, name=f"quantkit-report-{w}", daemon=True) for w in range(n_threads)]
    bar = tqdm(total=len(todo), desc=f"{kind} reports", unit="report", disable=not progress or not todo)
    ok = failed = 0
    errors: list[BaseException] = []
    try:
        for t in threads:
            t.start()
        for _ in range(len(todo)):
            i, outcome = done.get()
            if isinstance(outcome, BaseException):
                errors.append(outcome)
                failed += 1
            else:
                results[i] = outcome
                ok += outcome.ok
                failed += not outcome.ok
            bar.set_postfix(ok=ok, failed=failed, refresh=False)
            bar.update(1)
    finally:
        stop.set()
        bar.close()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def summarize(runs: Sequence[ReportRun]) -> str:
    """One line: ``"3 reports: 2 ok, 1 failed"``."""
    ok = sum(r.ok for r in runs)
    return f"{len(runs)} reports: {ok} ok, {len(runs) - ok} failed"
