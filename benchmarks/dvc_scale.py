"""What DVC pays for a crawl's content store as it grows towards 300,000 files (issue 18).

Each crawl stage's output is a folder of loose content-addressed files (``images/ab/<sha256>``)
that DVC tracks as one directory output with ``persist: true``. This builds the same thing at
N files, in a DVC repo of its own, with a stage whose command stands in for the crawl (it adds
the files the store lacks, up to ``files`` in params.yaml), and times what a user waits for:

- ``first_repro_s``: the stage run and DVC hashing and caching every file (minus the stand-in
  command's own time, ``fill_s``, reported apart);
- ``noop_repro_s`` and ``status_s``: nothing changed (target at 300k: no-op repro <= 10 s);
- ``resumed_repro_s``: 1,000 files more, as after a resumed crawl (target: <= 5 min);
- ``push_s`` / ``pull_s``: to and from a local remote, the pull into an empty cache and store.

Sizes: N = 10k, 30k, 100k, 300k (``--quick``: 1k, 3k, 10k). Files are 4 KiB: the cost measured
is per file (stat, state database, cache links); hashing bytes is per byte and the same for any
layout (md5 at a few hundred MB/s: about 3 minutes for 90 GB of images). The exponent of each
cost is fitted on log-log over the sizes run, and every cost is given at 300k as measured or,
when 300k was not run, extrapolated and marked so.

    python -m benchmarks dvc_scale            # about 25 minutes and 5 GB of disk on 2 cores
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILE_BYTES = 4096
RESUMED_FILES = 1000  # files a resumed crawl adds
TARGETS_S = {"noop_repro_s": 10.0, "resumed_repro_s": 300.0}  # at 300k files (issue 18)
AT = 300_000

FILL = '''
import hashlib, sys, time, pathlib
store, want = pathlib.Path(sys.argv[1]), int(sys.argv[2])
started = time.perf_counter()
have = sum(1 for _ in store.glob("*/*")) if store.exists() else 0
for i in range(have, want):
    data = hashlib.sha256(str(i).encode()).digest() * (FILE_BYTES // 32)
    sha = hashlib.sha256(data).hexdigest()
    (store / sha[:2]).mkdir(parents=True, exist_ok=True)
    (store / sha[:2] / sha).write_bytes(data)
pathlib.Path("fill_s").write_text(str(time.perf_counter() - started))
'''.replace("FILE_BYTES", str(FILE_BYTES))

DVC_YAML = """stages:
  crawl:
    cmd: python fill.py images ${files}
    params: [files]
    outs:
      - images:
          persist: true
"""


def _dvc(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True,
                   capture_output=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    return time.perf_counter() - started


def _repro(repo: Path, files: int) -> tuple[float, float]:
    """(seconds DVC added to the stand-in crawl, the stand-in's own seconds)."""
    (repo / "params.yaml").write_text(f"files: {files}\n")
    (repo / "fill_s").write_text("0")
    total = _dvc(["repro", "-q"], repo)
    fill = float((repo / "fill_s").read_text())
    return total - fill, fill


def measure(files: int, root: Path) -> dict:
    repo, remote = root / f"repo{files}", root / f"remote{files}"
    repo.mkdir()
    (repo / "fill.py").write_text(FILL)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    _dvc(["init", "--no-scm", "-q"], repo)
    _dvc(["remote", "add", "-d", "local", str(remote)], repo)
    first, fill = _repro(repo, files)
    noop, _ = _repro(repo, files)
    status = _dvc(["status", "-q"], repo)
    resumed, _ = _repro(repo, files + RESUMED_FILES)
    push = _dvc(["push", "-q"], repo)
    subprocess.run(["rm", "-rf", str(repo / "images"), str(repo / ".dvc" / "cache")], check=True)
    pull = _dvc(["pull", "-q"], repo)
    pulled = sum(1 for _ in (repo / "images").glob("*/*"))
    subprocess.run(["rm", "-rf", str(repo), str(remote)], check=True)
    assert pulled == files + RESUMED_FILES, (pulled, files)
    return {"files": files, "fill_s": round(fill, 1), "first_repro_s": round(first, 1),
            "noop_repro_s": round(noop, 2), "status_s": round(status, 2),
            "resumed_repro_s": round(resumed, 1), "push_s": round(push, 1),
            "pull_s": round(pull, 1)}


def exponent(rows: list[dict], key: str) -> float | None:
    """Least-squares slope of log(cost) on log(files): 1.0 is linear growth."""
    points = [(math.log(r["files"]), math.log(r[key])) for r in rows if r[key] > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / sxx, 2)


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict:
    sizes = sizes or ((1_000, 3_000, 10_000) if quick else (10_000, 30_000, 100_000, AT))
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(n, Path(tmp)) for n in sizes]
        for row in rows:
            print(row, flush=True)
    keys = ("first_repro_s", "noop_repro_s", "status_s", "resumed_repro_s", "push_s", "pull_s")
    largest = rows[-1]
    at_300k = {}
    for key in keys:
        slope = exponent(rows, key)
        if largest["files"] == AT:
            at_300k[key] = {"seconds": largest[key], "measured": True}
        elif slope is not None:
            at_300k[key] = {"seconds": round(largest[key] * (AT / largest["files"]) ** slope, 1),
                            "measured": False}
    return {
        "file_bytes": FILE_BYTES, "resumed_files": RESUMED_FILES, "sizes": rows,
        "exponents": {key: exponent(rows, key) for key in keys},
        "at_300k": at_300k,
        "target_ratio": {key: round(at_300k[key]["seconds"] / limit, 2)
                         for key, limit in TARGETS_S.items() if key in at_300k},
    }
