"""What DVC pays for a crawl's content store as it grows towards 300,000 images (issue 18), for
today's layout of loose files and for packed archives, side by side.

Each crawl stage's output is its content store, tracked as one directory output with
``persist: true``, and, as in the pipeline, two later stages depend on it (``hash@SOURCE`` and
``curate``), so DVC checks it three times. This builds the same thing at N images, in a DVC
repo of its own, with a stage whose command stands in for the crawl (it adds the images the
store lacks, up to ``images`` in params.yaml), in one of two layouts:

- ``loose``: one file per image, ``images/ab/<sha256>`` (the crawl's store before packs);
- ``packed``: the crawl's own store (crawl/storage.py), its packs closed at ``IMAGES_PER_PACK``
  images each (a 1 GiB pack holds about 340 paintings of 3 MB), each with its index of 52-byte
  records. A run never appends to an earlier run's pack (DVC may have linked it into its
  cache), so a resumed crawl adds packs and never changes one.

and times what a user waits for:

- ``first_repro_s``: the stage run and DVC hashing and caching every file (minus the stand-in
  command's own time, ``fill_s``, reported apart);
- ``noop_repro_s`` and ``status_s``: nothing changed (target at 300k: no-op repro <= 10 s);
- ``resumed_repro_s``: 1,000 images more, as after a resumed crawl (target: <= 5 min);
- ``push_s`` / ``pull_s``: to and from a local remote, the pull into an empty cache and store.

Sizes: N = 10k, 30k, 100k, 300k images (``--quick``: 1k, 3k, 10k); at each size the layouts
alternate which goes first. Images are 4 KiB: the cost measured is per file (stat, state
database, cache links); hashing bytes is per byte and the same for any layout (md5 at a few
hundred MB/s: about 3 minutes for 90 GB of images), which is also why the stand-in copies a
real pack's count of images, not its bytes. The exponent of each cost is fitted on log-log over
the sizes run, and every cost is given at 300k as measured or, when 300k was not run,
extrapolated and marked so.

    python -m benchmarks dvc_scale            # about an hour and 5 GB of disk on 2 cores
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.project_copy import REPO
from crawl.blobs import StoreIndex

FILE_BYTES = 4096
IMAGES_PER_PACK = 340  # a 1 GiB pack of 3 MB paintings
RESUMED_FILES = 1000  # images a resumed crawl adds
TARGETS_S = {"noop_repro_s": 10.0, "resumed_repro_s": 300.0}  # at 300k images (issue 18)
AT = 300_000
LAYOUTS = ("loose", "packed")

FILL = '''
import hashlib, sys, time, pathlib
layout, store, want = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
started = time.perf_counter()
store.mkdir(exist_ok=True)


def image(i):
    data = hashlib.sha256(str(i).encode()).digest() * (FILE_BYTES // 32)
    return hashlib.sha256(data).hexdigest(), data


if layout == "loose":
    have = sum(1 for _ in store.glob("*/*"))
    for i in range(have, want):
        sha, data = image(i)
        (store / sha[:2]).mkdir(exist_ok=True)
        (store / sha[:2] / sha).write_bytes(data)
else:  # the crawl's own store, its packs closed at IMAGES_PER_PACK images
    from crawl.storage import ContentStore
    with ContentStore(store, fsync=False, pack_bytes=IMAGES_PER_PACK * FILE_BYTES) as packs:
        for i in range(len(packs.index), want):
            packs.put(image(i)[1])
pathlib.Path("fill_s").write_text(str(time.perf_counter() - started))
'''
for _name, _value in (("FILE_BYTES", FILE_BYTES), ("IMAGES_PER_PACK", IMAGES_PER_PACK)):
    FILL = FILL.replace(_name, str(_value))

DVC_YAML = """stages:
  crawl:
    cmd: python fill.py LAYOUT images ${images}
    params: [images]
    outs:
      - images:
          persist: true
  hash:
    cmd: python -c "open('hashes', 'w').write('')"
    deps: [images]
    outs: [hashes]
  curate:
    cmd: python -c "open('manifest', 'w').write('')"
    deps: [images, hashes]
    outs: [manifest]
"""


def _dvc(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    # PYTHONPATH: the stand-in crawl imports this project's content store.
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True,
                   capture_output=True, env={**os.environ, "DVC_NO_ANALYTICS": "1",
                                             "PYTHONPATH": str(REPO)})
    return time.perf_counter() - started


def _repro(repo: Path, images: int) -> tuple[float, float]:
    """(seconds DVC added to the stand-in crawl, the stand-in's own seconds)."""
    (repo / "params.yaml").write_text(f"images: {images}\n")
    (repo / "fill_s").write_text("0")
    total = _dvc(["repro", "-q"], repo)
    fill = float((repo / "fill_s").read_text())
    return total - fill, fill


def stored_images(store: Path, layout: str) -> int:
    if layout == "loose":
        return sum(1 for _ in store.glob("*/*"))
    return len(StoreIndex(store))


def measure(images: int, layout: str, root: Path) -> dict:
    repo, remote = root / f"{layout}{images}", root / f"remote-{layout}{images}"
    repo.mkdir()
    (repo / "fill.py").write_text(FILL)
    (repo / "dvc.yaml").write_text(DVC_YAML.replace("LAYOUT", layout))
    _dvc(["init", "--no-scm", "-q"], repo)
    _dvc(["remote", "add", "-d", "local", str(remote)], repo)
    first, fill = _repro(repo, images)
    noop, _ = _repro(repo, images)
    status = _dvc(["status", "-q"], repo)
    resumed, _ = _repro(repo, images + RESUMED_FILES)
    files = sum(1 for p in (repo / "images").rglob("*") if p.is_file())
    push = _dvc(["push", "-q"], repo)
    subprocess.run(["rm", "-rf", str(repo / "images"), str(repo / ".dvc" / "cache")], check=True)
    pull = _dvc(["pull", "-q"], repo)
    pulled = stored_images(repo / "images", layout)
    subprocess.run(["rm", "-rf", str(repo), str(remote)], check=True)
    assert pulled == images + RESUMED_FILES, (pulled, images)
    return {"images": images, "files": files, "fill_s": round(fill, 1),
            "first_repro_s": round(first, 1), "noop_repro_s": round(noop, 2),
            "status_s": round(status, 2), "resumed_repro_s": round(resumed, 1),
            "push_s": round(push, 1), "pull_s": round(pull, 1)}


def exponent(rows: list[dict], key: str, size: str = "files") -> float | None:
    """Least-squares slope of log(row[key]) on log(row[size]): 1.0 is linear growth."""
    points = [(math.log(r[size]), math.log(r[key])) for r in rows if r[key] > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / sxx, 2)


def curve(rows: list[dict]) -> dict:
    """One layout's sizes, exponents, costs at 300k and ratios to the targets."""
    keys = ("first_repro_s", "noop_repro_s", "status_s", "resumed_repro_s", "push_s", "pull_s")
    largest = rows[-1]
    at_300k = {}
    for key in keys:
        slope = exponent(rows, key, size="images")
        if largest["images"] == AT:
            at_300k[key] = {"seconds": largest[key], "measured": True}
        elif slope is not None:
            at_300k[key] = {"seconds": round(largest[key] * (AT / largest["images"]) ** slope,
                                             1), "measured": False}
    return {"sizes": rows, "exponents": {key: exponent(rows, key, size="images") for key in keys},
            "at_300k": at_300k,
            "target_ratio": {key: round(at_300k[key]["seconds"] / limit, 2)
                             for key, limit in TARGETS_S.items() if key in at_300k}}


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict:
    sizes = sizes or ((1_000, 3_000, 10_000) if quick else (10_000, 30_000, 100_000, AT))
    rows: dict[str, list[dict]] = {layout: [] for layout in LAYOUTS}
    with tempfile.TemporaryDirectory() as tmp:
        for number, images in enumerate(sizes):
            # Alternate which layout goes first, so neither always meets a warmer machine.
            for layout in LAYOUTS[:: 1 if number % 2 == 0 else -1]:
                rows[layout].append(measure(images, layout, Path(tmp)))
                print(layout, rows[layout][-1], flush=True)
    layouts = {layout: curve(found) for layout, found in rows.items()}
    loose, packed = (layouts[name]["at_300k"] for name in LAYOUTS)
    return {"file_bytes": FILE_BYTES, "images_per_pack": IMAGES_PER_PACK,
            "resumed_images": RESUMED_FILES, "layouts": layouts,
            "packed_over_loose_at_300k": {
                key: round(packed[key]["seconds"] / loose[key]["seconds"], 2)
                for key in loose if key in packed and loose[key]["seconds"] > 0}}
