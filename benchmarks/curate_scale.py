"""The curate stage at a million records (issue 18, item 4): time and memory per step, as curves.

Run: ``python -m benchmarks curate_scale`` (sizes 10k, 30k, 100k records; ``--sizes`` for
others, ``--quick``: 3k, 10k). Alone on the machine: it times.

The real ``curate.stage.curate`` runs, in a fresh process per size, with the ``curate`` section
of params.yaml, on synthetic crawls written in the real formats (records.parquet per source,
the hash stage's Parquet, a stored file per image) that are shaped like the seed's crawl: about
a million records hold 300,000 paintings. Of the records, ``PAINTING_SHARE`` are stored
paintings, each artwork found on average ``COPIES_PER_PAINTING`` times across sources (the
copies cropped, tone-shifted, shown as a close-up or byte-identical), ``OTHER_TYPE_SHARE``
stored prints, drawings and photographs, and the rest not stored (refused or failed). Dates
fall partly outside the window, a share of licences is closed, every raw record is about 2 KB
of JSON. Thumbnails are the smooth random fields of ``benchmarks/detail_search.py`` and their
hashes are computed from them, so the hash and window searches find what they would find
among different paintings; how often real paintings make candidates is the demo's business
(``python -m benchmarks dedup_quality``), and the candidates per image are reported here so
the two can be compared.

Per size: every step's wall seconds and the process's peak RSS after it (``curate.stage.Phases``),
the largest peak RSS of a pool process, CPU seconds of all processes, records, stored images,
curated, duplicate clusters. At the middle size curate also runs in one process
(``curate.workers: 1``) on the same input, for the speed-up of the pool and a check that the
clusters and the curated set come out byte-identical. Then, per step and for
the whole, the growth exponent between the two largest sizes and the cost at 1,000,000 records
along it (marked extrapolated).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.detail_search import _fields, _render
from benchmarks.dvc_scale import exponent
from crawl.records import RECORDS_SCHEMA, SCHEMA_VERSION
from crawl.storage import ContentStore
from curate.hashing import HASH_PIPELINE, THUMB_SIDE, _dct_rows

SOURCES = ("met", "aic", "cleveland", "nga", "smithsonian", "wikidata", "europeana", "commons")
PAINTING_SHARE = 0.5  # of records: stored paintings (copies included)
COPIES_PER_PAINTING = 1.6  # records per painted artwork, on average
OTHER_TYPE_SHARE = 0.25  # of records: stored prints, drawings, photographs
# The rest are not stored: refused (no open licence, no image) or failed.
COPY_KINDS = {"crop": 0.4, "tone": 0.3, "same_bytes": 0.15, "detail": 0.15}
RAW_RECORD_CHARS = 2000
TARGET_RECORDS = 1_000_000
REPO = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, resource, sys, time
from pathlib import Path
from curate.settings import SPEC
from curate.stage import Phases, curate
from marcus.timings import peak_rss_mib
from marcus.config import check
from marcus.params import load_params

root, sources, workers = Path(sys.argv[1]), sys.argv[2].split(","), int(sys.argv[3])
config = check("curate", load_params("curate", "params.yaml"), SPEC)
config["workers"] = workers
phases = Phases()
started = time.perf_counter()
metrics = curate(config, sources, root / "crawl", root / "hashes", root / "curate",
                 root / "metrics.json", root / "plots", phases=phases)
wall = time.perf_counter() - started
usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
print(json.dumps({"wall_s": round(wall, 1),
                  "cpu_s": round(sum(u.ru_utime + u.ru_stime for u in usage), 1),
                  "peak_rss_mib": round(peak_rss_mib()),
                  "peak_rss_pool_process_mib": round(usage[1].ru_maxrss / 1024),
                  "records": metrics["records"], "stored": metrics["stored"],
                  "curated": metrics["curated"],
                  "duplicate_clusters": metrics["duplicate_clusters"],
                  "phases": phases.rows}))
'''


# ----------------------------------------------------------------------------------------------
# Synthetic crawls in the real formats


def phash_of(thumbs: np.ndarray) -> list[str]:
    """imagehash-style phash hex of each (n, 64, 64) uint8 thumbnail, taken on its 32 px
    average (the stage hashes the image itself; here the thumbnail stands in for it)."""
    small = thumbs.reshape(len(thumbs), 32, 2, 32, 2).mean((2, 4))
    dct = _dct_rows(32, 8)
    coefficients = (dct @ small @ dct.T).reshape(len(thumbs), 64)
    bits = coefficients > np.median(coefficients, axis=1, keepdims=True)
    return [row.tobytes().hex() for row in np.packbits(bits, axis=1)]


def centre_of(thumbs: np.ndarray) -> np.ndarray:
    """The central 70 % of each thumbnail, sampled back to 64 px."""
    index = np.round(np.linspace(9.5, 53.5, THUMB_SIDE)).astype(int)
    return thumbs[:, index][:, :, index]


def plan(records: int, seed: int) -> dict:
    """Who each record is: its source, kind, artwork, copy transform and facts."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, records, p=[PAINTING_SHARE, OTHER_TYPE_SHARE,
                                     1 - PAINTING_SHARE - OTHER_TYPE_SHARE])
    paintings = np.flatnonzero(kind == 0)
    artworks = max(1, round(len(paintings) / COPIES_PER_PAINTING))
    artwork = np.full(records, -1)
    # Every artwork once, the remaining painting records as further copies.
    artwork[paintings] = np.r_[np.arange(artworks),
                               rng.integers(0, artworks, max(0, len(paintings) - artworks))
                               ][rng.permutation(len(paintings))]
    names = list(COPY_KINDS)
    copy = np.array(["original"] * records, dtype=object)
    first = np.zeros(records, bool)
    seen: set[int] = set()
    for i in paintings:
        if artwork[i] not in seen:
            seen.add(artwork[i])
            first[i] = True
    later = paintings[~first[paintings]]
    copy[later] = rng.choice(names, len(later), p=list(COPY_KINDS.values()))
    return {"rng": rng, "kind": kind, "artwork": artwork, "copy": copy, "first": first,
            "source": rng.integers(0, len(SOURCES), records), "artworks": artworks}


def write_crawls(root: Path, records: int, seed: int = 0) -> dict:
    """crawl/SOURCE/records.parquet (+ images/) and hashes/SOURCE.parquet under ``root``."""
    p = plan(records, seed)
    rng, kind, artwork, copy = p["rng"], p["kind"], p["artwork"], p["copy"]
    artworks = p["artworks"]
    stored = kind < 2
    fields = _fields(rng, artworks + records)  # one field per artwork, one per other object
    field_of = np.where(kind == 0, artwork, artworks + np.arange(records))
    boxes = np.tile([0.0, 0.0, 1.0, 1.0], (records, 1))
    gamma = np.ones(records)
    n_crop = int((copy == "crop").sum())
    crop = rng.uniform(0.0, 0.12, (n_crop, 2))
    boxes[copy == "crop"] = np.column_stack([crop, 1 - crop - rng.uniform(0, 0.12, (n_crop, 2))])
    n_detail = int((copy == "detail").sum())
    side = rng.uniform(0.4, 0.7, (n_detail, 1)) * rng.uniform(0.9, 1.1, (n_detail, 2))
    boxes[copy == "detail"] = np.column_stack([rng.random((n_detail, 2)) * (1 - side), side])
    gamma[copy == "tone"] = rng.uniform(0.6, 1.6, int((copy == "tone").sum()))

    # Pixels, hashes and bytes of every stored image; a byte copy shares its original's.
    original_of = {a: i for i in np.flatnonzero(p["first"]) for a in [artwork[i]]}
    renders = np.flatnonzero(stored & (copy != "same_bytes"))
    thumbs = np.zeros((records, THUMB_SIDE, THUMB_SIDE), np.uint8)
    for start in range(0, len(renders), 256):  # (256, 64, 64, 24) floats at a time
        part = renders[start: start + 256]
        sub = {k: v[field_of[part]] for k, v in fields.items()}
        thumbs[part] = np.frombuffer(b"".join(_render(sub, boxes[part], rng, gamma[part])),
                                     np.uint8).reshape(len(part), THUMB_SIDE, THUMB_SIDE)
    same = np.flatnonzero(copy == "same_bytes")
    source_of_copy = np.array([original_of[artwork[i]] for i in same], dtype=np.int64)
    thumbs[same] = thumbs[source_of_copy]
    sha = np.array([f"{x:016x}" * 4 for x in rng.integers(0, 2**63, records)], dtype=object)
    sha[same] = sha[source_of_copy]
    phash = np.array(phash_of(thumbs), dtype=object)
    centre = np.array(phash_of(centre_of(thumbs)), dtype=object)
    long_side = rng.integers(300, 5000, records)
    aspect = rng.uniform(0.6, 1.5, records)
    width = np.maximum(1, long_side * np.minimum(aspect, 1)).astype(int)
    height = np.maximum(1, long_side / np.maximum(aspect, 1)).astype(int)
    width[same], height[same] = width[source_of_copy], height[source_of_copy]

    # Facts: dates partly outside 1400-1900, some closed licences, artists of many works.
    date_start = rng.integers(1300, 1990, records)
    artists = max(1, records // 25)
    artist = rng.integers(0, artists, records)
    open_licence = rng.random(records) < 0.93
    object_type = np.where(kind == 0, "painting",
                           rng.choice(["print", "drawing", "photograph"], records))
    filler = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz "), 65536))
    status = np.where(stored, "stored", rng.choice(["rejected", "failed"], records, p=[.8, .2]))
    reason = np.where(status == "rejected", rng.choice(["not_public_domain", "no_image"], records),
                      np.where(status == "failed", "http_503", None))
    for s, name in enumerate(SOURCES):
        mine = np.flatnonzero(p["source"] == s)
        folder = root / "crawl" / name
        folder.mkdir(parents=True)
        rows = []
        for i in mine:
            offset = int(i * 7919 % (len(filler) - RAW_RECORD_CHARS))
            raw = json.dumps({"id": int(i), "notes": filler[offset: offset + RAW_RECORD_CHARS]})
            keep = bool(stored[i])
            rows.append({
                "schema_version": SCHEMA_VERSION, "source": name, "source_id": f"{i:08d}",
                "accession_number": f"{1900 + i % 100}.{i}",
                "page_url": f"https://example.org/{name}/{i}",
                "image_url": f"https://example.org/{name}/{i}.jpg",
                "license": "CC0" if open_licence[i] else "in-copyright", "license_raw": "",
                "is_public_domain_flag": bool(open_licence[i]),
                "title": f"Work {i}", "artist": f"Artist {artist[i]:06d}",
                "artist_birth_year": int(date_start[i] - 30),
                "artist_death_year": int(date_start[i] + 25),
                "date_text": str(date_start[i]), "date_start": int(date_start[i]),
                "date_end": int(date_start[i] + 5), "object_type": str(object_type[i]),
                "object_type_raw": str(object_type[i]).title(), "medium": "Oil on canvas",
                "genre": None, "movement": None, "same_as": None, "found_via": None,
                "raw_record": raw, "status": str(status[i]), "reason": reason[i],
                "error": None, "http_status": 200 if keep else 503,
                "content_type": "image/jpeg" if keep else None, "etag": None,
                "last_modified": None, "sha256": sha[i] if keep else None,
                "bytes": THUMB_SIDE ** 2 if keep else None,
                "width": int(width[i]) if keep else None,
                "height": int(height[i]) if keep else None, "format": "JPEG" if keep else None})
        table = pa.Table.from_pylist(rows, schema=RECORDS_SCHEMA)
        pq.write_table(table, folder / "records.parquet")
        hashed, seen = [], set()
        store = ContentStore(folder / "images", fsync=False)
        for i in mine[stored[mine]]:
            if sha[i] in seen:
                continue
            seen.add(sha[i])
            store.put(thumbs[i].tobytes(), sha[i])
            hashed.append({"sha256": sha[i], "phash": phash[i], "phash_trim": phash[i],
                           "phash_centre": centre[i], "trim": [0.0, 0.0, 0.0, 0.0],
                           "thumb": thumbs[i].tobytes(), "width": int(width[i]),
                           "height": int(height[i]), "format": "JPEG", "mode": "RGB",
                           "error": None, "hash_pipeline": HASH_PIPELINE})
        store.close()
        (root / "hashes").mkdir(exist_ok=True)
        pq.write_table(pa.Table.from_pylist(hashed), root / "hashes" / f"{name}.parquet")
    return {"records": records, "artworks": artworks, "stored": int(stored.sum()),
            "copies": {k: int((copy == k).sum()) for k in COPY_KINDS}}


# ----------------------------------------------------------------------------------------------
# Runs


def curate_once(folder: Path, workers: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), ",".join(SOURCES),
                          str(workers)], capture_output=True, text=True, cwd=REPO)
    if out.returncode:
        raise RuntimeError(f"curate of {folder} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(records: int, root: Path, one_worker_too: bool = False) -> dict:
    """Curate with all cores (``curate.workers: 0``); with ``one_worker_too`` also in one
    process, and the ratio of the two, on the same input."""
    folder = root / f"n{records}"
    made = write_crawls(folder, records, seed=records)
    found = curate_once(folder, 0)
    assert found["records"] == records, found
    if one_worker_too:
        outputs = [folder / "curate" / name for name in ("clusters.parquet", "curated.parquet")]
        before = [path.read_bytes() for path in outputs]
        alone = curate_once(folder, 1)
        found["one_worker"] = {k: alone[k] for k in ("wall_s", "cpu_s", "peak_rss_mib", "phases")}
        found["one_worker"]["same_clusters_and_curated_files"] = \
            before == [path.read_bytes() for path in outputs]
        found["speedup_all_cores_vs_one"] = round(alone["wall_s"] / found["wall_s"], 2)
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    return {**made, **found}


def at_target(rows: list[dict], key: str) -> dict:
    """``key`` at TARGET_RECORDS along the exponent of the two largest sizes."""
    a, b = rows[-2:]
    growth = exponent([{"files": r["records"], key: r[key]} for r in (a, b)], key)
    if growth is None:
        return {"exponent": None, "at_1m": None}
    return {"exponent": growth, "at_1m": round(b[key] * (TARGET_RECORDS / b["records"]) ** growth)}


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict:
    sizes = sizes or ((3_000, 10_000) if quick else (10_000, 30_000, 100_000))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            rows.append(measure(n, Path(tmp), one_worker_too=n == sizes[len(sizes) // 2]))
            print(json.dumps(rows[-1]), flush=True)
    per_phase = {}
    for phase in (r["phase"] for r in rows[-1]["phases"]):
        points = [{"records": r["records"],
                   "wall_s": next(x["wall_s"] for x in r["phases"] if x["phase"] == phase)}
                  for r in rows]
        per_phase[phase] = at_target(points, "wall_s")
    return {
        "sizes": rows,
        "extrapolated_to_1m_records": {
            "note": "along the exponent between the two largest sizes; not measured",
            "wall_s": at_target(rows, "wall_s"), "cpu_s": at_target(rows, "cpu_s"),
            "peak_rss_mib": at_target(rows, "peak_rss_mib"), "per_phase_wall_s": per_phase},
    }
