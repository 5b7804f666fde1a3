"""Item pipelines: check and store the image, then journal the record.

1. ``StoreImagePipeline``: the fetched body (if any) is inspected and, when it is a usable image,
   written to the content-addressed store. Hashing, decoding and writing run in a worker
   thread, never on the event loop. The threads share one ``DecodeGate``
   (crawl/inspect_image.py) sized from ``crawl.max_rss_mb``: it bounds the decoded bitmaps
   in memory at once.
2. ``JournalPipeline``: appends the finished record to the crash-safe journal and counts it for
   the progress bar and the stats file.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter

from itemadapter import ItemAdapter
from scrapy.utils.asyncio import run_in_thread
from tqdm import tqdm

from crawl import reasons
from crawl.inspect_image import DecodeGate, decode_budget, inspect_image
from crawl.records import Journal, item_row
from crawl.storage import ContentStore


class StoreImagePipeline:
    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.max_pixels = settings.getint("MARCUS_MAX_PIXELS")
        budget = decode_budget(settings.getint("MARCUS_MAX_RSS_MB", 0),
                               settings.getint("CONCURRENT_REQUESTS"),
                               settings.getint("DOWNLOAD_MAXSIZE"))
        self.decode_gate = DecodeGate(budget) if budget is not None else None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def store(self) -> ContentStore:
        """The run's one store (crawl/run.py), which the spider's resume checks read too."""
        return self.crawler.spider.state.store

    async def process_item(self, item):
        adapter = ItemAdapter(item)
        body = adapter["extra"].pop("body", None)
        if body is None:
            return item
        adapter.update(await run_in_thread(self._check_and_store, body, adapter["content_type"]))
        return item

    def _check_and_store(self, body: bytes, content_type: str | None) -> dict:
        sha256 = hashlib.sha256(body).hexdigest()
        found = inspect_image(body, content_type, self.max_pixels, self.decode_gate)
        fields = {"sha256": sha256, "bytes": len(body), "format": found.format,
                  "width": found.width, "height": found.height}
        if found.reason is not None:
            status = "rejected" if found.reason in reasons.REJECTED else "failed"
            return {**fields, "status": status, "reason": found.reason, "error": found.error}
        self.store.put(body, sha256)
        return {**fields, "status": "stored", "reason": None, "error": None}


class JournalPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.journal = Journal(crawler.settings["MARCUS_JOURNAL"])
        self.progress = Progress(crawler.settings.getbool("MARCUS_PROGRESS", True))

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        row = item_row(item)
        self.journal.append(row)
        stats = self.crawler.stats
        stats.inc_value(f"marcus/status/{row['status']}")
        if row["reason"]:
            stats.inc_value(f"marcus/reason/{row['reason']}")
        if row["status"] == "stored":
            stats.inc_value("marcus/stored_bytes", row["bytes"] or 0)
        self.progress.update(row)
        return item

    def close_spider(self):
        self.journal.close()
        self.progress.close()


class Progress:
    """A progress bar on stderr: items/s, images/s, MiB stored, failures by reason."""

    def __init__(self, enabled: bool):
        self.bar = tqdm(unit=" items", disable=not enabled, mininterval=1.0, dynamic_ncols=True)
        self.started = time.monotonic()
        self.images = 0
        self.mib = 0.0
        self.reasons: Counter[str] = Counter()

    def update(self, row: dict) -> None:
        if row["status"] == "stored":
            self.images += 1
            self.mib += (row["bytes"] or 0) / 2**20
        if row["reason"]:
            self.reasons[row["reason"]] += 1
        self.bar.update(1)
        if self.bar.disable:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        worst = ", ".join(f"{k} {v}" for k, v in self.reasons.most_common(3))
        self.bar.set_postfix_str(f"{self.images / elapsed:.1f} img/s, {self.mib:.1f} MiB"
                                 + (f", {worst}" if worst else ""), refresh=False)

    def close(self) -> None:
        self.bar.close()
