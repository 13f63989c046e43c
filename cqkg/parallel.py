"""Running independent SPARQL work on several threads (pyoxigraph releases the GIL in queries)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# More threads than this only contend for the same store on the machines we measured (2-4 cores).
MAX_WORKERS = 4


def default_workers() -> int:
    """Threads for parallel queries: the cores, at most MAX_WORKERS."""
    return min(MAX_WORKERS, os.cpu_count() or 1)


def run_all(tasks: Iterable[Callable[[], T]], workers: int | None = None) -> list[T]:
    """Run the tasks (on `workers` threads, default_workers() by default); results in task order.

    The first exception raised by a task is raised here, after every task has finished.

    >>> run_all([lambda: 1, lambda: 2], workers=2)
    [1, 2]
    """
    tasks = list(tasks)
    workers = workers or default_workers()
    if workers <= 1 or len(tasks) <= 1:
        return [t() for t in tasks]
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(t) for t in tasks]
    return [f.result() for f in futures]
