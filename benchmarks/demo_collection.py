"""How long the demo collection takes to build and how fast the server answers.

Target (issue 2): building and serving a 2,000-artwork collection must not dominate `dvc repro`.
Serving is measured with 4 keep-alive clients fetching JSON records and original images over
loopback, which is what the crawl stage does.

``scaled`` builds the same collection as a scaled demo (issue 18: ``demo.size_scale`` 0.5,
``demo.painter`` fast), in the same run, and both builds are extrapolated linearly to 100,000
artworks (build time and disk; the catalogue itself grows linearly too).

    python -m benchmarks demo_collection       # about 3 minutes on 2 cores
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from demo.apis import met
from demo.build import build_collection
from demo.server import DemoServer


def _fetch_all(urls: list[str], clients: int) -> tuple[float, int]:
    def worker(chunk: list[str]) -> int:
        total = 0
        with requests.Session() as session:
            for url in chunk:
                total += len(session.get(url, timeout=30).content)
        return total

    chunks = [urls[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        total_bytes = sum(pool.map(worker, chunks))
    return time.perf_counter() - started, total_bytes


SCALED = {"size_scale": 0.5, "painter": "fast"}  # a scaled demo's settings (issue 18)


def at_100k(artworks: int, seconds: float, mib: float) -> dict:
    factor = 100_000 / artworks
    return {"build_hours": round(seconds * factor / 3600, 2),
            "stored_gib": round(mib * factor / 1024, 1)}


def run(quick: bool = False) -> dict:
    artworks = 200 if quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        started = time.perf_counter()
        summary, _timings = build_collection(root, seed=1234, artworks=artworks, oversized_mib=4)
        build_s = time.perf_counter() - started
        with DemoServer(root) as server:
            copies = [c for c in server.collection.source_copies("met") if c.has_image
                      and not c.defect]
            api = server.api_roots["met"] + "/public/collection/v1/objects/"
            json_s, _ = _fetch_all([api + c.source_id for c in copies], clients=4)
            images = [met.object_record(server.collection, c, server.api_roots["met"])
                      ["primaryImage"] for c in copies]
            image_s, image_bytes = _fetch_all(images, clients=4)
        scaled_root = Path(tmp) / "scaled"
        started = time.perf_counter()
        scaled, _timings = build_collection(scaled_root, seed=1234, artworks=artworks,
                                            oversized_mib=4, **SCALED)
        scaled_s = time.perf_counter() - started
    return {
        "artworks": artworks,
        "at_100k": at_100k(artworks, build_s, summary["stored_mib"]),
        "scaled": {**SCALED, "stored_files": scaled["stored_files"],
                   "stored_mib": scaled["stored_mib"], "build_seconds": round(scaled_s, 1),
                   "build_artworks_per_s": round(artworks / scaled_s, 1),
                   "build_speedup": round(build_s / scaled_s, 2),
                   "at_100k": at_100k(artworks, scaled_s, scaled["stored_mib"])},
        "copies": summary["copies"],
        "stored_files": summary["stored_files"],
        "stored_mib": summary["stored_mib"],
        "build_seconds": round(build_s, 1),
        "build_artworks_per_s": round(artworks / build_s, 1),
        "serve_json_records_per_s": round(len(copies) / json_s, 1),
        "serve_images_per_s": round(len(images) / image_s, 1),
        "serve_image_mib_per_s": round(image_bytes / 2**20 / image_s, 1),
    }
