"""Command line for the demo collection.

    python -m demo build [--params params.yaml] [--out DIR] [--seed N] [--artworks N]
    python -m demo serve [--params params.yaml] [--root DIR] [--port 0] [--faults SPEC] [--hostile]

``build`` renders the collection (what the DVC stage ``demo`` runs); ``serve`` answers the
sources' APIs on loopback until interrupted and prints each source's API root; ``--hostile``
(or ``demo.hostile: true``) adds the hostile corpus of demo/hostile.py to every source's
listing, each in that API's format.

Settings come from the params file's ``demo`` section, checked before any work (an unknown,
missing or mistyped key is an error naming it); flags override its values. The collection
folder is ``paths.demo`` unless ``--out`` (``--root``) names another.
"""

from __future__ import annotations

import argparse
import json
import sys

from demo.settings import SPEC
from marcus.atomic import write_text
from marcus.config import check
from marcus.errors import reported
from marcus.params import load_params
from marcus.timings import write_timings


@reported("demo")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    params_help = "params file (sections demo and paths; default: params.yaml)"
    parser.add_argument("--params", default="params.yaml", help=params_help)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="render the collection to a folder")
    build.add_argument("--params", default=argparse.SUPPRESS, help=params_help)
    build.add_argument("--out", help="output folder (default: params paths.demo)")
    build.add_argument("--seed", type=int)
    build.add_argument("--artworks", type=int)
    build.add_argument("--workers", type=int, help="processes (default: all cores)")
    build.add_argument("--metrics", help="write build metrics JSON here")
    build.add_argument("--timings", help="write the build's timings JSON here")
    serve = sub.add_parser("serve", help="serve a built collection on loopback")
    serve.add_argument("--params", default=argparse.SUPPRESS, help=params_help)
    serve.add_argument("--root", help="collection folder (default: params paths.demo)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--faults", help='e.g. "error_500=0.1,retry_after=0.05,attempts=2"')
    serve.add_argument("--hostile", action="store_true", default=None,
                       help="append hostile records to every listing (demo/HOSTILE.md)")
    args = parser.parse_args(argv)

    params = check("demo", load_params("demo", args.params), SPEC)
    if args.command == "build":
        from demo.build import build_collection
        out = args.out or load_params("paths", args.params)["demo"]
        workers = args.workers if args.workers is not None else params["workers"]
        summary, timings = build_collection(
            out,
            seed=args.seed if args.seed is not None else params["seed"],
            artworks=args.artworks if args.artworks is not None else params["artworks"],
            reference_year=params["reference_year"],
            defect_share=params["defect_share"],
            oversized_mib=params["oversized_mib"],
            workers=workers or None,  # 0: all cores
            size_scale=float(params["size_scale"]), painter=params["painter"])
        text = json.dumps(summary, indent=2)
        print(text)
        if args.metrics:
            write_text(args.metrics, text + "\n")
        write_timings(args.timings, timings)
        return 0

    from demo.server import DemoServer
    root = args.root or load_params("paths", args.params)["demo"]
    server = DemoServer(root, host=args.host, port=args.port,
                        faults=args.faults if args.faults is not None else params["faults"],
                        hostile=bool(args.hostile or params["hostile"]))
    print(f"demo collection at {server.url}", flush=True)
    for source, url in server.api_roots.items():
        print(f"  {source:<10} {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
