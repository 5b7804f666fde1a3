"""Timings apart from results: what a run took (seconds, rates, requests made, peak memory).

Metrics files (``paths.metrics``) hold results only, so two runs of the same data give the same
bytes, `dvc metrics diff` stays empty and git stays clean. What differs from run to run goes
to ``paths.timings`` (git-ignored, not a DVC metric) through ``--timings FILE``, which dvc.yaml
passes to every stage that measures something::

    write_timings(args.timings, {"seconds": 12.3, "images_per_s": 95.1})
    cat timings/crawl/met.json

Without ``--timings`` (a run by hand) nothing is written; the stage's log line still shows them.
"""

from __future__ import annotations

import json
import os

from marcus.atomic import write_text


def write_timings(path: str | os.PathLike | None, values: dict) -> None:
    """Write ``values`` as JSON to ``path`` (atomically, folders made); nothing when None."""
    if path is None:
        return
    write_text(path, json.dumps(values, indent=2, sort_keys=True) + "\n")


def peak_rss_mib(pid: int | None = None) -> float:
    """This process's peak resident memory (MiB), to set against ``crawl.max_rss_mb``; with
    ``pid``, that process's (Linux only: 0.0 where it cannot be read, as once it has ended).

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a crawl started by a
    large process (a test run, a notebook) would report its parent's size.
    """
    try:
        with open(f"/proc/{pid or 'self'}/status") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):  # not Linux, or no such process
        if pid is not None:
            return 0.0
        import resource
        import sys

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = kib / 1024 if sys.platform == "darwin" else kib  # macOS counts bytes
    return round(kib / 1024, 1)
