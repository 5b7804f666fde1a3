"""What a crawl's bookkeeping costs as its records grow towards 1,000,000 (issue 18, item 6).

Every crawl run starts by reading what earlier runs finished (``records.parquet`` and the
journal, for resume), meets each record of its listings once (is it new, was it finished, was
its image stored before under that URL?) and ends by writing ``records.parquet`` from all of
it. This times those steps two ways, side by side, each in a fresh process per size, on records
of a realistic size (a raw record of about 2 KB of JSON, as a museum's API record is; Wikidata
entities are larger):

- ``in_memory``: every earlier row whole in a dict (``read_records``, ``Journal.load``), the
  records met in a set, and the final write from the dict: what crawl/run.py did before
  issue 18;
- ``ledger``: what crawl/run.py does now: all of that in ``crawl.ledger.Ledger``'s SQLite file
  beside the crawl, and the final write streamed from it and the journal,
  ``ROWS_PER_GROUP`` rows at a time.

For each: ``load_s`` (the start of a run), ``meet_s`` (the per-record lookups of a run that
meets every record again), ``write_s`` (its end) and ``peak_rss_mib`` (the process's VmHWM).
The journal holds a tenth of the records again (a resumed crawl's newer rows). Sizes: 10k, 30k,
100k, 300k, 1M records (``--quick``: 3k, 10k, 30k). Exponents are fitted on log-log over the
sizes (1.0: linear; 0: flat), and the ratios ledger / in_memory are at the largest.

    python -m benchmarks records_scale        # about 20 minutes and 8 GB of disk on 2 cores
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.dvc_scale import exponent

RAW_RECORD_CHARS = 2000
JOURNAL_SHARE = 0.1  # rows a resumed crawl has journalled again since the last Parquet

CHILD = r'''
import json, sys, time
from pathlib import Path
from crawl import records
from crawl.ledger import Ledger

folder, way = Path(sys.argv[1]), sys.argv[2]
parquet, journal = folder / "records.parquet", records.Journal(folder / "journal.jsonl")
started = time.perf_counter()
if way == "in_memory":
    latest = {**records.read_records(parquet), **journal.load()}
    stored_by_url = {r["image_url"]: r for r in latest.values() if r["status"] == "stored"}
    loaded = time.perf_counter()
    met = set()
    for i in range(int(sys.argv[3])):  # what a spider asks of each record it meets
        key = ("met", str(i))
        met.add(key)
        row = latest.get(key)
        stored_by_url.get(row["image_url"])
    lookups = time.perf_counter()
    keys = sorted(met, key=records.sort_key)
    records.finish_records(folder / "out.parquet", (latest[k] for k in keys))
    count = len(keys)
else:
    with Ledger.beside(folder) as ledger:
        ledger.load_earlier(parquet, journal)
        loaded = time.perf_counter()
        for i in range(int(sys.argv[3])):
            key = ("met", str(i))
            ledger.meet(key)
            row = ledger.earlier(key)
            ledger.stored_at(row["image_url"])
        lookups = time.perf_counter()
        ledger.note_journal(journal)
        for key, _why in ledger.without_row():
            raise AssertionError(f"{key} has no row")
        ledger.spill(parquet)
        count = records.finish_records(folder / "out.parquet",
                                       ledger.final_rows(journal))["records"]
done = time.perf_counter()
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status")
                if line.startswith("VmHWM:"))
print(json.dumps({"records": count, "load_s": round(loaded - started, 2),
                  "meet_s": round(lookups - loaded, 2), "write_s": round(done - lookups, 2),
                  "peak_rss_mib": round(peak_kib / 1024)}))
'''
WAYS = ("in_memory", "ledger")


def row(i: int) -> dict:
    raw = json.dumps({"objectID": i, "title": f"Painting {i}", "notes": "x" * RAW_RECORD_CHARS})
    return {"source": "met", "source_id": str(i), "accession_number": f"19{i % 100}.{i}",
            "page_url": f"https://www.metmuseum.org/art/collection/search/{i}",
            "image_url": f"https://images.metmuseum.org/CRDImages/ep/original/{i}.jpg",
            "license": "PD", "license_raw": '{"isPublicDomain": true}',
            "is_public_domain_flag": True, "title": f"Painting {i}", "artist": "A. Painter",
            "artist_birth_year": 1600, "artist_death_year": 1660,
            "date_text": "ca. 1640", "date_start": 1635, "date_end": 1645,
            "object_type": "painting", "object_type_raw": "Paintings", "medium": "Oil on canvas",
            "raw_record": raw, "status": "stored", "http_status": 200,
            "content_type": "image/jpeg", "sha256": f"{i:064x}", "bytes": 300_000,
            "width": 1600, "height": 1200, "format": "JPEG"}


def prepare(folder: Path, records: int) -> int:
    """records.parquet of ``records`` rows and a journal re-stating a tenth; its bytes."""
    from crawl.records import write_records

    folder.mkdir(parents=True)
    write_records([row(i) for i in range(records)], folder / "records.parquet")
    step = max(1, round(1 / JOURNAL_SHARE))
    with open(folder / "journal.jsonl", "w") as journal:
        for i in range(0, records, step):
            journal.write(json.dumps({**row(i), "status": "stored"}) + "\n")
    return (folder / "records.parquet").stat().st_size + (folder / "journal.jsonl").stat().st_size


def measure(records: int, root: Path) -> dict:
    folder = root / f"n{records}"
    on_disk = prepare(folder, records)
    out = {"records": records, "input_mib": round(on_disk / 2**20)}
    for way in WAYS:
        result = subprocess.run([sys.executable, "-c", CHILD, str(folder), way, str(records)],
                                check=True,
                                capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parents[1]).stdout
        found = json.loads(result.strip().splitlines()[-1])
        assert found["records"] == records, found
        out[way] = {k: v for k, v in found.items() if k != "records"}
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    return out


def run(quick: bool = False) -> dict:
    sizes = (3_000, 10_000, 30_000) if quick else (10_000, 30_000, 100_000, 300_000, 1_000_000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            rows.append(measure(n, Path(tmp)))
            print(rows[-1], flush=True)
    keys = ("load_s", "meet_s", "write_s", "peak_rss_mib")
    largest = rows[-1]
    return {
        "raw_record_chars": RAW_RECORD_CHARS, "journal_share": JOURNAL_SHARE, "sizes": rows,
        "exponents": {way: {key: exponent([{"files": r["records"], key: r[way][key]}
                                           for r in rows], key) for key in keys}
                      for way in WAYS},
        "peak_rss_mib_per_1k_records": {
            way: round(largest[way]["peak_rss_mib"] * 1000 / largest["records"], 1)
            for way in WAYS},
        "ratio_ledger_to_in_memory": {
            key: round(largest["ledger"][key] / max(largest["in_memory"][key], 1e-9), 2)
            for key in keys},
    }
