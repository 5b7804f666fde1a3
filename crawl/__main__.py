"""Crawl one source.

    python -m crawl SOURCE --out DIR [--api-root URL|demo] [--limit N] [--metadata-only]
                    [--resume] [--params params.yaml] [--stats FILE] [--timings FILE]

SOURCE is one of met, aic, cleveland, nga, commons, urls, wikidata, smithsonian, europeana
(the sections of ``crawl.sources``). ``--api-root demo`` (the default in params.yaml) starts
the offline demo collection of ``paths.demo`` on ``crawl.demo_port`` and crawls that; a real
root (e.g. https://api.artic.edu) crawls the live site with the same code. A source that talks
to several services (wikidata: the Query Service, the Wikidata API, Commons) sends them all to
the one root named on the command line.
The output folder is ``paths.crawl``/SOURCE unless ``--out`` names another.

The ``crawl`` section is checked before any work: an unknown key (in it or in any source's
section), a missing one or one of the wrong kind is an error naming it and the valid keys;
so is the ``demo`` section when the demo is crawled.

Run it again after a crash or kill with the same command: stored images are never fetched
again. ``--resume`` also skips records that finished, without refetching their metadata.
Exit status: 0 when the listing was crawled completely (individual failures are rows with a
reason), 3 when some listing pages failed (run again to finish), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from marcus.config import check
from marcus.errors import UserError, reported
from marcus.params import load_params


@reported("crawl")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("--out", help="output folder (default: paths.crawl/SOURCE)")
    parser.add_argument("--api-root", help="API root URL, or 'demo' (default: from params)")
    parser.add_argument("--limit", type=int, help="stop after N records")
    parser.add_argument("--metadata-only", action="store_true", help="records, no images")
    parser.add_argument("--resume", action="store_true",
                        help="skip records finished by an earlier run, metadata included")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--stats", help="write the run's results JSON here (a DVC metric)")
    parser.add_argument("--timings", help="write what the run took (seconds, requests) here")
    args = parser.parse_args(argv)

    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    from crawl.run import check_settings, crawl

    common = check_settings(load_params("crawl", args.params))
    sources = common["sources"]
    if args.source not in sources:
        parser.error(f"unknown source {args.source!r}; params.yaml has: {', '.join(sources)}")
    paths = load_params("paths", args.params)
    config = dict(sources[args.source])
    api_root = args.api_root or config["api_root"]
    out = args.out or Path(paths["crawl"]) / args.source
    if api_root == "demo":
        from demo.settings import SPEC as DEMO_SPEC

        demo = check("demo", load_params("demo", args.params), DEMO_SPEC)
    elif (args.source == "urls" and config["list"] is None
          and urlsplit(api_root).scheme not in ("http", "https")):
        raise UserError("crawl.sources.urls.list is not set: give the path or http(s) URL of "
                        "the list of image URLs (CSV, TSV or Parquet with a url column), or "
                        "crawl the demo's list with api_root: demo")
    # run.py leaves logging to us. Without a handler of our own, the spiders' warnings and
    # errors (a broken listing page, say) would only be counted by Scrapy, never shown.
    # The level sits on the handler: Scrapy resets the root logger's level to NOTSET.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(common["log_level"])
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)

    server = None
    if api_root == "demo":
        from demo.server import DemoServer

        try:
            server = DemoServer(paths["demo"], port=common["demo_port"],
                                faults=demo["faults"] or None, hostile=demo["hostile"]).start()
        except FileNotFoundError as exc:  # an OSError too: caught first, or it reads as a port
            print(f"{exc}\nbuild it first: dvc repro demo", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"cannot start the demo collection on port {common['demo_port']}: {exc}\n"
                  "(another crawl running? set crawl.demo_port to a free port)", file=sys.stderr)
            return 2
        api_root = server.api_roots[args.source]
    if args.api_root or server is not None:
        from crawl.spiders import spiders

        config = spiders()[args.source].with_api_root(config, api_root)
    try:
        stats = crawl(args.source, out, api_root, common, config, limit=args.limit,
                      metadata_only=args.metadata_only, resume=args.resume,
                      stats_path=args.stats, timings_path=args.timings)
    finally:
        if server is not None:
            server.stop()
    counts = ", ".join(f"{k} {v}" for k, v in stats["counts"].items())
    print(f"{args.source}: {counts}; {stats['run']['seconds']} s", file=sys.stderr)
    if not stats["complete"]:
        print(f"{args.source}: incomplete ({stats['listing_failures']} listing requests failed, "
              f"{stats['unfinished_records']} records unfinished); run again to finish",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
