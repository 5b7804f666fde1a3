"""Run one source's crawl end to end: settings from params, the spider, the final records.

``crawl(...)`` is what ``python -m crawl`` calls. Layout of ``out``::

    out/images/pack-*.pack   original bytes, with an index per pack (crawl/storage.py)
    out/records.parquet      one row per record met in this run's listing (crawl/records.py)
    out/journal.jsonl        only while a crawl is unfinished: what a rerun resumes from
    out/.ledger-*.sqlite     only while a crawl runs: its bookkeeping on disk (crawl/ledger.py)

Politeness comes from params: each source's ``delay_s`` and ``concurrency`` are that site's
stated policy. Against a loopback API root (the demo collection) they are lifted when
``crawl.loopback_unthrottled`` is true, because no real site is on the other end.

``check_settings`` checks the ``crawl`` section before any work: its own keys (``SPEC``), and
each source's section against the keys its spider reads (``SourceSpider.config_spec``).
"""

from __future__ import annotations

import ipaddress
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess

from crawl import reasons
from crawl.items import ArtworkImage
from crawl.ledger import Ledger
from crawl.records import Journal, finish_records, item_row
from crawl.spiders.base import CrawlState
from crawl.storage import ContentStore
from marcus.atomic import write_text
from marcus.config import check, one_of
from marcus.errors import UserError
from marcus.timings import peak_rss_mib, write_timings

# The keys of the ``crawl`` section (their meaning: the comments in params.yaml).
SPEC = {
    "demo_port": int, "contact": str, "user_agent": str, "loopback_unthrottled": bool,
    "loopback_concurrency": int, "retries": int, "backoff_base_s": float,
    "backoff_max_s": float, "retry_after_max_s": float, "timeout_s": float, "max_bytes": int,
    "max_pixels": int, "max_rss_mb": int, "max_header_bytes": int, "max_url_chars": int,
    "max_listing_pages": int, "fsync": bool, "robots_recheck_s": float,
    "log_level": one_of("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), "progress": bool,
    "sources": dict,  # source name -> its section, checked against its spider's keys
}


def check_settings(common: dict) -> dict:
    """``common`` (the ``crawl`` section) unchanged when its keys, and each source's keys, are
    the ones the crawl reads, of their kinds; else a UserError naming the first that is not."""
    from crawl.spiders import spiders

    check("crawl", common, SPEC)
    known = spiders()
    for name, config in common["sources"].items():
        if name not in known:
            raise UserError(f"crawl.sources: unknown source {name!r} (valid sources: "
                            f"{', '.join(known)})")
        check(f"crawl.sources.{name}", config, known[name].config_spec())
    return common


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scrapy_settings(source: str, common: dict, config: dict, out: Path, api_root: str) -> dict:
    from crawl.spiders import spiders

    unthrottled = common["loopback_unthrottled"] and is_loopback(api_root)
    delay = 0.0 if unthrottled else float(config["delay_s"])
    per_host = common["loopback_concurrency"] if unthrottled else config["concurrency"]
    user_agent = common["user_agent"].format(contact=common["contact"])
    headers = {"Accept": "application/json, image/*;q=0.9, */*;q=0.5"}
    if source == "aic":  # AIC asks for its own header (browser-safe) with project and contact
        headers["AIC-User-Agent"] = user_agent
    return {
        "BOT_NAME": "marcus",
        "USER_AGENT": user_agent,
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # No listeners, nothing written outside `out`: Scrapy 2.19's RemoteControl serves code
        # execution on a loopback port and writes a token file under $HOME. The other default
        # components that could listen or write (HTTP cache, JOBDIR state, feeds, LOG_FILE,
        # memusage/stats mail) are off by default and stay so (tests/crawl/test_e2e_robots.py).
        "REMOTE_CONTROL_ENABLED": False,
        # RFC 9309 robots.txt: first 500 KiB, compiled once per host (crawl/robots.py).
        "ROBOTSTXT_PARSER": "crawl.robots.RobotsTxtParser",
        "MARCUS_ROBOTS_RECHECK_S": float(common["robots_recheck_s"]),
        "LOG_LEVEL": common["log_level"],
        "DEFAULT_REQUEST_HEADERS": headers,
        "CONCURRENT_REQUESTS": max(per_host, 1),
        "CONCURRENT_REQUESTS_PER_DOMAIN": max(per_host, 1),
        "DOWNLOAD_DELAY": delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,  # +-50 % around DOWNLOAD_DELAY (Scrapy 2.19)
        "DOWNLOAD_TIMEOUT": float(common["timeout_s"]),
        "DOWNLOAD_MAXSIZE": int(common["max_bytes"]),
        "DOWNLOAD_WARNSIZE": 0,
        # Only http(s): a redirect must never make us read file: or ftp: URLs.
        "DOWNLOAD_HANDLERS": {"file": None, "s3": None, "ftp": None, "data": None},
        "REDIRECT_MAX_TIMES": 5,
        "METAREFRESH_ENABLED": False,
        "REACTOR_THREADPOOL_MAXSIZE": 4,
        # Our own URL checks make rows of what is too long (UrlLengthMiddleware drops silently).
        "URLLENGTH_LIMIT": 0,
        "SPIDER_MIDDLEWARES": {"crawl.middlewares.RecordErrorsMiddleware": 950},
        "DOWNLOADER_MIDDLEWARES": {
            "crawl.middlewares.AllowedOriginsMiddleware": 60,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawl.middlewares.PoliteRetryMiddleware": 550,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawl.robots.RobotsTxtMiddleware": 100,  # Scrapy's place for it
        },
        "ITEM_PIPELINES": {"crawl.pipelines.StoreImagePipeline": 100,
                           "crawl.pipelines.JournalPipeline": 900},
        "MARCUS_JOURNAL": str(out / "journal.jsonl"),
        "MARCUS_MAX_PIXELS": int(common["max_pixels"]),
        "MARCUS_MAX_BYTES": int(common["max_bytes"]),
        "MARCUS_TIMEOUT_S": float(common["timeout_s"]),
        "MARCUS_RETRIES": int(common["retries"]),
        "MARCUS_BACKOFF_BASE_S": float(common["backoff_base_s"]),
        "MARCUS_BACKOFF_MAX_S": float(common["backoff_max_s"]),
        "MARCUS_RETRY_AFTER_MAX_S": float(common["retry_after_max_s"]),
        # A 403 is final, unless the source's spider says its site answers bursts with a 403
        # page (met: crawl.sources.met.retry_403_html; spiders()[source].scrapy_settings).
        "MARCUS_RETRY_403_HTML": False,
        "MARCUS_MAX_URL_CHARS": int(common["max_url_chars"]),
        "MARCUS_MAX_LISTING_PAGES": int(common["max_listing_pages"]),
        "MARCUS_PROGRESS": common["progress"],
        # Decoded bitmaps in memory at once are bounded so that the process stays under this
        # peak RSS (MiB); see crawl/inspect_image.py for what it covers.
        "MARCUS_MAX_RSS_MB": int(common["max_rss_mb"]),
        # A server that never ends its headers is cut off here (crawl/http_limits.py).
        "MARCUS_MAX_HEADER_BYTES": int(common["max_header_bytes"]),
        "EXTENSIONS": {"crawl.http_limits.ResponseHeaderLimit": 0},
        **spiders()[source].scrapy_settings(config),
    }


def dropped_row(key: tuple[str, str], why: str | None) -> dict:
    source, source_id = key
    return item_row(ArtworkImage(
        source=source, source_id=source_id, status="failed", reason=reasons.DROPPED,
        error=why or "the crawl ended without a result for this record: a component "
                     "discarded its request without saying so"))


def crawl(source: str, out: str | Path, api_root: str, common: dict, config: dict,
          limit: int | None = None, metadata_only: bool = False, resume: bool = False,
          stats_path: str | Path | None = None, timings_path: str | Path | None = None) -> dict:
    """Crawl one source into ``out``; returns the run's stats: results (also written to
    ``stats_path``, a DVC metric) and, under ``run``, what this run took (written to
    ``timings_path``: it differs from run to run and is no metric)."""
    from crawl.spiders import spiders

    known = spiders()
    if source not in known:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(known)}")
    known[source].check_config(config, api_root)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = ContentStore(out / "images", fsync=common["fsync"])
    journal = Journal(out / "journal.jsonl")
    with Ledger.beside(out) as ledger:  # what earlier runs finished; the journal is newer
        ledger.load_earlier(out / "records.parquet", journal)
        state = CrawlState(ledger=ledger, store=store, resume=resume, limit=limit,
                           metadata_only=metadata_only)
        started = time.time()
        settings = scrapy_settings(source, common, config, out, api_root)
        settings["LOG_INSTALL_ROOT_HANDLER"] = False  # keep our own logging set-up
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(known[source])
        process.crawl(crawler, api_root=api_root, config=config, state=state)
        with store:
            process.start()
        elapsed = time.time() - started

        ledger.note_journal(journal)  # now with this run's rows
        # A record met in the listing whose request or item some component discarded (the
        # scheduler's duplicate filter, a failing pipeline) ends as a failed row saying so: a
        # rerun would meet the same drop, and the crawl could never finish. After a crawl
        # that ran to its end, any other record without a row was dropped too, by something
        # that said nothing. After an interrupted one (a signal, a kill) they stay unfinished.
        ran_to_end = crawler.stats.get_value("finish_reason") == "finished"
        missing = 0
        for key, why in ledger.without_row():
            if ran_to_end or why is not None:
                ledger.set_final(key, dropped_row(key, why))
            else:
                missing += 1
        ledger.spill(out / "records.parquet")  # the rows it keeps, before it is replaced
        written = finish_records(out / "records.parquet", ledger.final_rows(journal))
    complete = state.listing_failures == 0 and not missing
    if complete:  # everything is in records.parquet now; the journal has done its job
        (out / "journal.jsonl").unlink(missing_ok=True)

    scrapy_stats = crawler.stats.get_stats()
    stats = {
        "source": source,
        "complete": complete,
        "listing_failures": state.listing_failures,
        "listing_stops": state.listing_stops,
        "unfinished_records": missing,
        "counts": {"records": written["records"], **written["counts"]},
        "reasons": dict(sorted(written["reasons"].items())),
        "stored_mib": round(written["stored_bytes"] / 2**20, 2),
        "run": {
            "seconds": round(elapsed, 1),
            "requests": scrapy_stats.get("downloader/request_count", 0),
            "retries": scrapy_stats.get("retry/count", 0),
            "peak_rss_mib": peak_rss_mib(),
            "fetched_images": scrapy_stats.get("marcus/status/stored", 0),
            "images_per_s": round(scrapy_stats.get("marcus/status/stored", 0)
                                  / max(elapsed, 1e-9), 1),
        },
    }
    results = {k: v for k, v in stats.items() if k != "run"}
    if stats_path:
        write_text(stats_path, json.dumps(results, indent=2, sort_keys=True) + "\n")
    write_timings(timings_path, stats["run"])
    return stats

