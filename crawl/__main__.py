"""Crawl one source.

    python -m crawl SOURCE --out DIR [--api-root URL|demo] [--limit N] [--metadata-only]
                    [--resume] [--params params.yaml] [--stats FILE] [--timings FILE]

SOURCE is one of met, aic, cleveland, nga, commons, urls. ``--api-root demo`` (the default in
params.yaml) starts the offline demo collection on ``crawl.demo_port`` and crawls that; a real
root (e.g. https://api.artic.edu) crawls the live site with the same code.

Run it again after a crash or kill with the same command: stored images are never fetched
again. ``--resume`` also skips records that finished, without refetching their metadata.
Exit status: 0 when the listing was crawled completely (individual failures are rows with a
reason), 3 when some listing pages failed (run again to finish), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys

from marcus.errors import reported
from marcus.params import load_params


@reported("crawl")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("--out", help="output folder (default: crawl.root/SOURCE)")
    parser.add_argument("--api-root", help="API root URL, or 'demo' (default: from params)")
    parser.add_argument("--limit", type=int, help="stop after N records")
    parser.add_argument("--metadata-only", action="store_true", help="records, no images")
    parser.add_argument("--resume", action="store_true",
                        help="skip records finished by an earlier run, metadata included")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--stats", help="write the run's results JSON here (a DVC metric)")
    parser.add_argument("--timings", help="write what the run took (seconds, requests) here")
    args = parser.parse_args(argv)

    params = load_params(None, args.params)
    common = params["crawl"]
    sources = common["sources"]
    if args.source not in sources:
        parser.error(f"unknown source {args.source!r}; params.yaml has: {', '.join(sources)}")
    # run.py leaves logging to us. Without a handler of our own, the spiders' warnings and
    # errors (a broken listing page, say) would only be counted by Scrapy, never shown.
    # The level sits on the handler: Scrapy resets the root logger's level to NOTSET.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(str(common.get("log_level", "WARNING")).upper())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    config = dict(sources[args.source])
    api_root = args.api_root or config.get("api_root", "demo")
    out = args.out or f"{common['root']}/{args.source}"
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")

    from crawl.run import crawl

    server = None
    if api_root == "demo":
        from demo.server import DemoServer
        try:
            server = DemoServer(params["demo"]["root"], port=int(common["demo_port"]),
                                faults=params["demo"].get("faults") or None,
                                hostile=bool(params["demo"].get("hostile", False))).start()
        except FileNotFoundError as exc:  # an OSError too: caught first, or it reads as a port
            print(f"{exc}\nbuild it first: dvc repro demo", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"cannot start the demo collection on port {common['demo_port']}: {exc}\n"
                  "(another crawl running? set crawl.demo_port to a free port)", file=sys.stderr)
            return 2
        api_root = server.api_roots[args.source]
        if args.source == "urls":
            config.setdefault("list", f"{api_root}/list.csv")
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
