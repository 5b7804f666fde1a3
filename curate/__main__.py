"""Curation command line.

    python -m curate hash SOURCE [--params params.yaml]     stage hash@SOURCE
    python -m curate run [--params params.yaml]             stage curate
    python -m curate dedup DIR -o OUT.parquet [--max-distance 10] [--workers N]

``hash`` and ``run`` read the params file's ``curate`` section, checked before any work (an
unknown, missing or mistyped key is an error naming it), and its ``paths``; ``run`` scores
de-duplication against the demo's ground truth when ``paths.demo`` holds one.

``dedup`` works on any folder: it clusters every image under DIR (recursively) and writes one
row per file: ``path`` (relative to DIR), ``sha256``, ``phash``, ``cluster_id``,
``is_canonical`` (the largest image of its cluster), ``error``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from curate.settings import SPEC
from marcus.config import check
from marcus.errors import UserError, reported
from marcus.params import load_params


@reported("curate")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    params_help = "params file (sections curate and paths; default: params.yaml)"
    parser.add_argument("--params", default="params.yaml", help=params_help)
    sub = parser.add_subparsers(dest="command", required=True)
    hash_cmd = sub.add_parser("hash", help="hash one source's stored images")
    hash_cmd.add_argument("source")
    run_cmd = sub.add_parser("run", help="cluster, gate, filter and write the manifests")
    for command in (hash_cmd, run_cmd):  # --params before or after the subcommand
        command.add_argument("--params", default=argparse.SUPPRESS, help=params_help)
    dedup = sub.add_parser("dedup", help="cluster the images of any folder")
    dedup.add_argument("folder", type=Path)
    dedup.add_argument("-o", "--out", type=Path, required=True)
    dedup.add_argument("--max-distance", type=int, default=10)
    dedup.add_argument("--workers", type=int)
    args = parser.parse_args(argv)

    if args.command == "dedup":
        from curate.folder import dedup_folder

        if not args.folder.is_dir():
            parser.error(f"not a folder: {args.folder}")
        summary = dedup_folder(args.folder, args.out, args.max_distance, args.workers)
        print(f"{summary['files']} files, {summary['errors']} unreadable, "
              f"{summary['clusters']} duplicate clusters -> {args.out}", file=sys.stderr)
        return 0

    config = check("curate", load_params("curate", args.params), SPEC)
    paths = load_params("paths", args.params)
    crawl_root, hashes_root = Path(paths["crawl"]), Path(paths["hashes"])
    if args.command == "hash":
        from curate.hash_stage import hash_source
        from curate.local_features import FeatureOptions

        crawl_dir = crawl_root / args.source
        if not (crawl_dir / "records.parquet").is_file():
            print(f"no crawl of {args.source} at {crawl_dir}: run `dvc repro crawl@{args.source}`",
                  file=sys.stderr)
            return 2
        n = hash_source(crawl_dir, hashes_root / f"{args.source}.parquet",
                        workers=config["workers"] or None,  # 0: all cores
                        features=FeatureOptions(**config["features"]))
        print(f"{args.source}: {n} images hashed", file=sys.stderr)
        return 0

    from curate.dedup import checked_tuning
    from curate.stage import curate

    checked_tuning({k: v for k, v in config["dedup"].items() if k != "max_distance"})
    sources = list(load_params("crawl", args.params)["sources"])
    unknown = [s for s in config["source_priority"] if s not in sources]
    if unknown:
        raise UserError(f"curate.source_priority: {unknown[0]!r} is not a source of "
                        f"crawl.sources (have: {', '.join(sources)})")
    metrics = curate(config, sources, crawl_root, hashes_root, Path(paths["curate"]),
                     Path(paths["curate_metrics"]), Path(paths["curate_plots"]),
                     demo_root=Path(paths["demo"]),
                     verdicts_dir=Path(paths["curate_verdicts"]))
    print(f"curated {metrics['curated']} of {metrics['records']} records "
          f"({metrics['duplicate_clusters']} duplicate clusters)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
