"""Several uvicorn workers and one set of metrics: prometheus-client's multiprocess mode.

``serve --workers N`` makes a fresh private directory (``mkdtemp``: mode 0700) and names it in
``PROMETHEUS_MULTIPROC_DIR`` before any worker starts; each worker is a new interpreter
(uvicorn spawns them), so prometheus-client reads the variable when the worker first imports it
and writes its values to files there, and a scrape answered by any worker reads every file.
A directory left by an earlier run (a counter of a dead process) would be counted again, so one
set by the environment is replaced, not reused. When a worker dies the supervisor drops its live
gauges' files (``mark_process_dead``; its counters stay, so totals never go down), and the
directory is removed when the server exits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import multiprocess
from uvicorn.supervisors import Multiprocess

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory() -> Iterator[str]:
    """A fresh private directory in ``PROMETHEUS_MULTIPROC_DIR`` for the workers started inside,
    removed at exit (the variable restored)."""
    directory = tempfile.mkdtemp(prefix="agentkeys-metrics-")
    previous = os.environ.get(MULTIPROC_DIR)
    os.environ[MULTIPROC_DIR] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_DIR, None)
        else:
            os.environ[MULTIPROC_DIR] = previous
        shutil.rmtree(directory, ignore_errors=True)


class MetricsMultiprocess(Multiprocess):
    """uvicorn's supervisor, telling prometheus-client about every worker that went away (died
    and replaced, or retired by SIGHUP / SIGTTOU), so a dead worker's live gauge is dropped."""

    def keep_subprocess_alive(self) -> None:
        before = self._pids()
        super().keep_subprocess_alive()
        self._forget_departed(before)

    def handle_signals(self) -> None:
        before = self._pids()
        super().handle_signals()
        self._forget_departed(before)

    def _pids(self) -> set[int]:
        return {process.pid for process in self.processes if process.pid is not None}

    def _forget_departed(self, before: set[int]) -> None:
        for pid in before - self._pids():
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
