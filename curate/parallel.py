"""Process pools for curate's many small, independent pieces of work (verifying pairs,
searching windows, assigning visual words), with results in order and the same for any number
of workers: each piece is computed alone, and what to compute is decided in one process.

    from curate.parallel import map_ordered, process_pool
    with process_pool(workers, worth_it=len(tasks) >= 64) as pool:   # None: work here
        results = map_ordered(pool, function, tasks)

Pool processes run BLAS and OpenCV on one thread (the pool is the parallelism); see
`single_threaded_blas` for why that also holds in the calling process.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


@functools.cache
def _openblas_set_threads_local():
    """numpy's bundled OpenBLAS ``openblas_set_num_threads_local`` (>= 0.3.27), or None."""
    libs = Path(np.__file__).parent.parent / "numpy.libs"
    for path in sorted(libs.glob("*openblas*")):
        with contextlib.suppress(OSError, AttributeError):
            function = ctypes.CDLL(str(path)).openblas_set_num_threads_local
            function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
            return function
    return None


@contextlib.contextmanager
def single_threaded_blas():
    """Run this thread's BLAS calls on one thread. Verification multiplies many small
    matrices; a multi-threaded BLAS spends far longer waking its threads than multiplying
    (10-100x slower on a busy machine). A no-op where numpy's BLAS is not OpenBLAS."""
    setter = _openblas_set_threads_local()
    previous = setter(1) if setter else None
    try:
        yield
    finally:
        if setter:
            setter(previous)


def process_pool(workers: int | None, worth_it: bool, initializer=None, initargs: tuple = ()
          ) -> contextlib.AbstractContextManager:
    """A process pool of ``workers`` (None or 0: all cores), or a null context (work in this
    process) for one worker or when the work is too little (``worth_it`` false) to repay
    starting processes. Results never depend on which: every piece of work is computed
    alone and the results are gathered in order."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or not worth_it:
        return contextlib.nullcontext(None)
    return ProcessPoolExecutor(workers, initializer=_start_worker,
                               initargs=(initializer, initargs))


def _start_worker(initializer, initargs: tuple) -> None:
    """A pool process: its BLAS and OpenCV on one thread for good (the pool is the
    parallelism), then ``initializer``."""
    import cv2

    set_threads = _openblas_set_threads_local()
    if set_threads is not None:
        set_threads(1)
    cv2.setNumThreads(1)
    if initializer is not None:
        initializer(*initargs)


def _apply(function, chunk: list) -> list:
    return [function(item) for item in chunk]


def imap_ordered(pool: ProcessPoolExecutor | None, function, items, chunksize: int = 16):
    """``function`` over the iterable ``items``, results in order, in ``pool`` or here. Chunks
    are handed to the pool a few per core ahead of the results taken, not all at once as
    ``Executor.map`` does: a million tasks would otherwise hold a million task tuples and
    their futures in memory at once."""
    if pool is None:
        yield from map(function, items)
        return
    ahead = 4 * (os.cpu_count() or 1)
    items, pending = iter(items), collections.deque()
    while chunk := list(itertools.islice(items, chunksize)):
        pending.append(pool.submit(_apply, function, chunk))
        if len(pending) >= ahead:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


def map_ordered(pool: ProcessPoolExecutor | None, function, items, chunksize: int = 16) -> list:
    return list(imap_ordered(pool, function, items, chunksize))
