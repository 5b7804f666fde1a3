"""What DVC pays for a crawl store of loose content-addressed files (images/ab/<sha256>).

The crawl keeps one file per image in 256 prefix folders rather than packing shards; this
measures whether DVC copes at the scale of one source: ``dvc add`` of 20,000 files (first
hash and cache), ``dvc status`` with nothing changed, and ``dvc status`` after 100 new files.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _dvc(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True,
                   capture_output=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    return round(time.perf_counter() - started, 2)


def _fill(store: Path, count: int, size: int, seed: int) -> None:
    for i in range(count):
        data = hashlib.sha256(f"{seed}:{i}".encode()).digest() * (size // 32)
        sha = hashlib.sha256(data).hexdigest()
        (store / sha[:2]).mkdir(parents=True, exist_ok=True)
        (store / sha[:2] / sha).write_bytes(data)


def run(quick: bool = False) -> dict:
    count = 2000 if quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        _dvc(["init", "--no-scm", "-q"], repo)
        _fill(repo / "images", count, 16_384, seed=1)
        add_s = _dvc(["add", "-q", "images"], repo)
        status_s = _dvc(["status", "-q"], repo)
        _fill(repo / "images", 100, 16_384, seed=2)  # an incremental re-crawl adds a few
        readd_s = _dvc(["add", "-q", "images"], repo)
    return {"files": count, "file_kib": 16, "dvc_add_s": add_s,
            "dvc_status_unchanged_s": status_s, "dvc_add_after_100_new_files_s": readd_s}
