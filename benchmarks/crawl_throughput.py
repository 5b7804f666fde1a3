"""Crawl throughput and memory, end to end through the real CLI, over loopback.

Targets (issue 3), politeness off:
- at least 80 stored images/s per core for ~1000 px JPEGs (img2dataset's published per-core
  rate), counting everything the crawler does: fetch, sha256, header + draft decode, fsync'd
  store, journal row, final Parquet. "Per core" = stored images / crawler CPU seconds, so the
  server's CPU on the same machine is not counted; wall-clock rates are reported too.
- 3000 px JPEGs reported beside it.
- RSS growth of the crawler under 100 MB across a 20,000-image crawl.

Images are distinct JPEGs written by this script and served by a static HTTP server in another
process; the crawler reads them from a URL list (the ``urls`` spider), one request per image.
"""

from __future__ import annotations

import csv
import functools
import http.server
import io
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from crawl.blobs import StoreIndex

REPO = Path(__file__).resolve().parents[1]


def make_images(folder: Path, count: int, long_side: int, seed: int) -> None:
    """Distinct, smooth, JPEG-compressible images (paint-like, not noise)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    base = 64
    for i in range(count):
        small = rng.integers(0, 256, size=(base * 3 // 4, base, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((long_side, long_side * 3 // 4),
                                            Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=88)
        (folder / f"img{i:06d}.jpg").write_bytes(buf.getvalue())


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass


def serve_folder(folder: str, port_queue) -> None:
    """Serve ``folder`` over HTTP/1.1 on a free loopback port; put the port on the queue."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=folder))
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def crawl_folder(folder: Path, work: Path, fsync: bool = True) -> dict:
    """Serve ``folder`` from another process and crawl it with ``python -m crawl urls``."""
    queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_folder, args=(str(folder), queue), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    names = sorted(p.name for p in folder.iterdir())
    url_list = work / "list.csv"
    with open(url_list, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["url", "license"])
        writer.writerows([f"http://127.0.0.1:{port}/{n}", "Public Domain"] for n in names)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["crawl"].update(progress=False, fsync=fsync)
    params["crawl"]["sources"]["urls"].update(list=str(url_list),
                                              object_types=["painting", "other"])
    params_path = work / "params.yaml"
    params_path.write_text(yaml.safe_dump(params))
    out = work / "out"
    peak = {"rss_mib": 0.0, "first_rss_mib": None}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawl", "urls", "--out", str(out), "--params", str(params_path),
         "--api-root", f"http://127.0.0.1:{port}"],
        cwd=work, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = threading.Thread(target=_sample_rss, args=(proc.pid, peak, out), daemon=True)
    sampler.start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # the crawler's own CPU, not the server's
    wall = time.perf_counter() - started
    server.terminate()
    server.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(stderr.decode()[-2000:])
    stored = len(StoreIndex(out / "images"))
    return {"images": len(names), "stored": stored, "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mib": peak["rss_mib"],
            "rss_after_first_items_mib": peak["first_rss_mib"]}


def _sample_rss(pid: int, peak: dict, out: Path) -> None:
    status = Path(f"/proc/{pid}/status")
    journal = out / "journal.jsonl"
    while status.exists():
        try:
            rss = next(int(line.split()[1]) for line in status.read_text().splitlines()
                       if line.startswith("VmRSS")) / 1024
        except (StopIteration, OSError, ValueError):
            break
        peak["rss_mib"] = max(peak["rss_mib"], round(rss, 1))
        if peak["first_rss_mib"] is None and journal.is_file() and journal.stat().st_size > 50_000:
            peak["first_rss_mib"] = round(rss, 1)  # warmed up: a few hundred items done
        time.sleep(0.2)


def run(quick: bool = False) -> dict:
    sizes = {"1000px": (300 if quick else 1500, 1000), "3000px": (40 if quick else 200, 3000)}
    memory_images = 2000 if quick else 20_000
    results: dict = {"target_images_per_cpu_s_1000px": 80, "target_rss_growth_mib": 100}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, (count, side) in sizes.items():
            make_images(tmp / label / "files", count, side, seed=side)
            r = crawl_folder(tmp / label / "files", tmp / label)
            r["images_per_s_wall"] = round(r["stored"] / r["wall_s"], 1)
            r["images_per_cpu_s"] = round(r["stored"] / max(r["cpu_s"], 1e-9), 1)
            results[label] = r
        make_images(tmp / "memory" / "files", memory_images, 256, seed=7)
        r = crawl_folder(tmp / "memory" / "files", tmp / "memory")
        r["rss_growth_mib"] = round(r["peak_rss_mib"] - (r["rss_after_first_items_mib"]
                                                         or r["peak_rss_mib"]), 1)
        results["memory_20k_small"] = r
    results["meets_throughput_target"] = results["1000px"]["images_per_cpu_s"] >= 80
    results["meets_memory_target"] = results["memory_20k_small"]["rss_growth_mib"] < 100
    return results
