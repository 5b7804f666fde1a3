"""Peak RSS of a crawl that meets huge images all at once, with and without the decode gate.

    .venv/bin/python -m benchmarks crawl_memory      # about a minute; writes
                                                     # benchmarks/results/crawl_memory.json

Four 12,000 x 12,400 RGBA PNGs (148.8 Mpx, just under crawl.max_pixels; 595 MB each decoded,
about 600 kB each on the wire, since they are solid colours) are served together from another
process and crawled through the real CLI (the ``urls`` spider, loopback concurrency, so the
four bodies arrive at once). The crawler runs twice with params.yaml's settings: once as is
(``crawl.max_rss_mb``, the decode gate of crawl/inspect_image.py) and once with
``max_rss_mb: 0`` (no gate: every worker thread decodes at once). Peak RSS is the crawl
process's own, as its timings report it (``peak_rss_mib``, VmHWM). Target: with the gate,
under ``crawl.max_rss_mb``.

The PNGs are written once to benchmarks/out/crawl_memory/ (git-ignored) and reused.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from PIL import Image

from benchmarks.crawl_throughput import serve_folder
from crawl.blobs import StoreIndex

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / "out" / "crawl_memory"
SIZE = (12_000, 12_400)
COLOURS = [(200, 120, 40, 255), (30, 90, 160, 255), (240, 230, 200, 255), (20, 60, 30, 200)]


def make_pngs(count: int) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = CACHE / f"huge{i}_{SIZE[0]}x{SIZE[1]}.png"
        if not path.is_file():
            tmp = path.with_suffix(".tmp")
            with Image.new("RGBA", SIZE, COLOURS[i % len(COLOURS)]) as im:
                im.save(tmp, "PNG", compress_level=9)
            tmp.rename(path)
        paths.append(path)
    return paths


def crawl_peak(names: list[str], port: int, work: Path, max_rss_mb: int) -> dict:
    """Crawl the served PNGs with ``python -m crawl urls``; the crawler's peak RSS and time."""
    work.mkdir(parents=True)
    with open(work / "list.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["url", "license"])
        writer.writerows([f"http://127.0.0.1:{port}/{n}", "Public Domain"] for n in names)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["crawl"].update(progress=False, fsync=False, max_rss_mb=max_rss_mb)
    params["crawl"]["sources"]["urls"].update(list=str(work / "list.csv"),
                                              object_types=["painting", "other"])
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    out = work / "out"
    started = time.perf_counter()
    with open(work / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawl", "urls", "--out", str(out), "--params",
             str(work / "params.yaml"), "--api-root", f"http://127.0.0.1:{port}",
             "--timings", str(work / "timings.json")],
            cwd=work, env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # the crawler's own CPU, not the server's
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError((work / "stderr.txt").read_text()[-2000:])
    return {"max_rss_mb": max_rss_mb, "stored": len(StoreIndex(out / "images")),
            "wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mib": json.loads((work / "timings.json").read_text())["peak_rss_mib"]}


def run(quick: bool = False) -> dict:
    from crawl.inspect_image import decode_budget, decoded_bytes

    count = 2 if quick else 4
    paths = make_pngs(count)
    params = yaml.safe_load((REPO / "params.yaml").read_text())["crawl"]
    budget_mb = int(params["max_rss_mb"])
    concurrency = int(params["loopback_concurrency"])
    queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_folder, args=(str(CACHE), queue), daemon=True)
    server.start()
    try:
        port = queue.get(timeout=30)
        names = [p.name for p in paths]
        with tempfile.TemporaryDirectory() as tmp:
            gated = crawl_peak(names, port, Path(tmp) / "gate", budget_mb)
            ungated = crawl_peak(names, port, Path(tmp) / "no_gate", 0)
    finally:
        server.terminate()
        server.join()
    decode_mib = decoded_bytes(*SIZE, "RGBA") / 2**20
    return {
        "images": count,
        "image": f"{SIZE[0]}x{SIZE[1]} RGBA PNG, solid colour",
        "body_kib_each": round(sum(p.stat().st_size for p in paths) / count / 1024, 1),
        "decoded_mib_each": round(decode_mib, 1),
        "decode_budget_mib": round(decode_budget(budget_mb, concurrency,
                                                 int(params["max_bytes"])) / 2**20, 1),
        "gate": gated,
        "no_gate": ungated,
        "peak_rss_ratio_no_gate_over_gate": round(ungated["peak_rss_mib"]
                                                  / gated["peak_rss_mib"], 2),
        "target_peak_rss_mib": budget_mb,
        "meets_target": gated["peak_rss_mib"] < budget_mb and gated["stored"] == count,
    }
