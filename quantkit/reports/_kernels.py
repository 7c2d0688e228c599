"""Warm kernels: one started kernel runs several report notebooks, one after another.

Starting a kernel and importing pandas, ArcticDB, statsmodels and matplotlib in
it costs seconds; the report's own work on a month of 1-minute bars takes less.
A batch therefore gives each worker one :class:`WarmKernel` and runs its reports
through the papermill engine ``"quantkit-warm"`` registered here. Before each
notebook the engine clears the user namespace (``%reset -f``), so one report
never sees another's variables; imported modules stay loaded (that is the
saving). nbclient leaves a kernel it did not start running (``owns_km`` is
False), and the engine closes its client channels after each notebook.

A kernel that died or timed out is replaced before the next notebook.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

__all__ = ["ENGINE_NAME", "WarmKernel"]

logger = logging.getLogger("quantkit.reports")

#: papermill engine name of warm-kernel execution.
ENGINE_NAME = "quantkit-warm"

#: Environment variables that cap a kernel's BLAS / OpenMP threads.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

#: Code run once when a warm kernel starts (silently): the report's heavy imports.
PRELOAD = "import quantkit.reports.data, quantkit.backtest, matplotlib.figure, matplotlib.backends.backend_agg"


class WarmKernel:
    """A started kernel that papermill reuses across notebooks.

    Use it from one thread at a time (each batch worker owns one).

    Args:
        kernel_name: kernelspec name (default ``"python3"``).
        startup_timeout: seconds to wait for the kernel to answer (default 60).
        preload: code run silently after start (default: the report's imports); ``""`` skips.
        threads: BLAS/OpenMP threads of the kernel (``OPENBLAS_NUM_THREADS`` & co.); ``None`` keeps
            the library defaults. Parallel workers set ``cores // workers`` so kernels do not oversubscribe.
    """

    def __init__(
        self,
        kernel_name: str = "python3",
        *,
        startup_timeout: float = 60.0,
        preload: str = PRELOAD,
        threads: int | None = None,
    ) -> None:
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.preload = preload
        self.threads = threads
        self.km: Any = None
        self.notebooks = 0
        self.starts = 0

    def ensure_started(self) -> Any:
        """Start the kernel if it is not running (again, after a crash); returns the kernel manager."""
        if self.km is not None and run_sync(self.km.is_alive)():
            return self.km
        if self.km is not None:
            self.shutdown()
        from jupyter_client import AsyncKernelManager  # type: ignore[attr-defined]

        km = AsyncKernelManager(kernel_name=self.kernel_name)
        env = dict(os.environ)
        if self.threads is not None:
            env.update({name: str(self.threads) for name in _THREAD_VARS})
        # ipykernel 7 warns on every start that TCP is unencrypted (it is loopback): keep stderr for errors
        run_sync(km.start_kernel)(extra_arguments=["--IPKernelApp.log_level=ERROR"], env=env)
        self.km = km
        self.starts += 1
        if self.preload:
            self._run_silently(self.preload)
        return km

    def _run_silently(self, code: str) -> None:
        kc = self.km.client()
        kc.start_channels()
        try:
            run_sync(kc.wait_for_ready)(timeout=self.startup_timeout)
            reply = run_sync(kc.execute_interactive)(code, silent=True, store_history=False, timeout=self.startup_timeout)
            if reply["content"].get("status") != "ok":
                logger.warning("warm kernel preload failed: %s", reply["content"].get("evalue"))
        finally:
            kc.stop_channels()

    def shutdown(self) -> None:
        """Stop the kernel (no-op when not started)."""
        km, self.km = self.km, None
        if km is None:
            return
        try:
            run_sync(km.shutdown_kernel)(now=True)
        except Exception as exc:  # the kernel may already be gone
            logger.debug("warm kernel shutdown: %s", exc)
        try:
            run_sync(km.cleanup_resources)()
        except Exception as exc:
            logger.debug("warm kernel cleanup: %s", exc)

    def __enter__(self) -> "WarmKernel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class _ResettingClient(PapermillNotebookClient):
    """papermill's client, clearing the (reused) kernel's namespace before the first cell."""

    def papermill_execute_cells(self) -> None:
        assert self.kc is not None
        self.wait_for_reply(self.kc.execute("%reset -f", silent=True, store_history=False))
        super().papermill_execute_cells()


class _ThrottledManager(NotebookExecutionManager):
    """papermill's execution manager, writing the output notebook at start, at the end, and at most every
    ``autosave_cell_every`` seconds in between (papermill itself rewrites it before and after every cell:
    ~45 full JSON writes per report, growing with the embedded PNGs)."""

    _force = False

    def save(self, **kwargs: Any) -> None:
        elapsed = (self.now() - self.last_save_time).total_seconds()
        if self._force or elapsed >= self.autosave_cell_every:
            super().save(**kwargs)

    def notebook_start(self, **kwargs: Any) -> None:
        self._force = True
        try:
            super().notebook_start(**kwargs)
        finally:
            self._force = False

    def notebook_complete(self, **kwargs: Any) -> None:
        self._force = True
        try:
            super().notebook_complete(**kwargs)
        finally:
            self._force = False


class WarmKernelEngine(NBClientEngine):
    """papermill engine running a notebook on a :class:`WarmKernel` passed as ``warm_kernel=``."""

    @classmethod
    def execute_notebook(  # type: ignore[override]
        cls,
        nb: Any,
        kernel_name: str,
        output_path: Any = None,
        progress_bar: bool = False,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> Any:
        nb_man = _ThrottledManager(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                   autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(  # type: ignore[override]
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: float = 60,
        execution_timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        warm: WarmKernel = kwargs.pop("warm_kernel")
        kwargs.pop("input_path", None)
        kwargs.pop("timeout", None)
        kwargs.pop("startup_timeout", None)
        km = warm.ensure_started()
        client = _ResettingClient(
            nb_man,
            km=km,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            **kwargs,
        )
        try:
            return client.execute()
        finally:
            warm.notebooks += 1
            if client.kc is not None:
                client.kc.stop_channels()


papermill_engines.register(ENGINE_NAME, WarmKernelEngine)
