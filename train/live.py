"""The per-tick log of a training stage: wall-clock laps and the dvclive logger, positioned
so that a resumed run logs again exactly the ticks a crash undid.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from marcus.atomic import atomic_path


class Ticker:
    """Wall-clock bookkeeping for one log line per tick."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        return seconds

    def total(self) -> float:
        return time.perf_counter() - self.start


class NoLive:
    """What a training loop logs to where dvclive is not installed (a bare CUDA machine
    running ``python -m benchmarks gpu_check``): nothing. The tick lines still print."""

    step = 0

    def log_metric(self, name: str, value) -> None:
        pass

    def log_image(self, name: str, image) -> None:
        pass

    def next_step(self) -> None:
        pass

    def end(self) -> None:
        pass


def open_live(live_dir: str | os.PathLike, tick: int, resumed: bool):
    """The dvclive logger of a training stage, positioned at ``tick`` (tick k is dvclive step
    k - 1): rows that a crash undid are dropped first, so a resumed run logs them again.
    Without dvclive (it comes with the project's install, not with a bare torch), a
    `NoLive`, said once on stderr."""
    try:
        from dvclive import Live
    except ImportError:
        print(f"dvclive is not installed: no metrics or sample grids in {live_dir}",
              file=sys.stderr)
        return NoLive()

    trim_dvclive_history(live_dir, tick - 1)
    drop_unreadable_summary(live_dir)
    live = Live(str(live_dir), resume=resumed, dvcyaml=False, save_dvc_exp=False, report=None)
    live.step = tick
    return live


def trim_dvclive_history(live_dir: str | os.PathLike, last_step: int) -> None:
    """Drop dvclive rows logged after ``last_step``: they came from ticks that a crash undid,
    and the resumed run logs those steps again."""
    for tsv in Path(live_dir).glob("plots/metrics/**/*.tsv"):
        lines = tsv.read_text(encoding="utf-8").splitlines()
        if not lines:
            continue
        header, rows = lines[0], lines[1:]
        step_col = header.split("\t").index("step") if "step" in header.split("\t") else None
        if step_col is None:
            continue
        kept = [r for r in rows if _row_step(r, step_col) <= last_step]
        if len(kept) != len(rows):
            with atomic_path(tsv) as tmp:
                tmp.write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")


def _row_step(row: str, step_col: int) -> float:
    """The step of a dvclive row, or infinity for a row a kill cut short (dropped)."""
    fields = row.split("\t")
    try:
        return int(fields[step_col])
    except (IndexError, ValueError):
        return float("inf")


def drop_unreadable_summary(live_dir: str | os.PathLike) -> None:
    """Delete dvclive's summary (metrics.json) when it is not a JSON object: dvclive rewrites
    it in place every step, so a kill can leave it empty, and a resumed dvclive would fail
    to read it. The resumed run writes it again at its first tick."""
    summary = Path(live_dir) / "metrics.json"
    try:
        readable = isinstance(json.loads(summary.read_text(encoding="utf-8")), dict)
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        readable = False
    if not readable:
        summary.unlink(missing_ok=True)
