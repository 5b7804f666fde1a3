"""Run benchmarks by name (default: all) and write their results to benchmarks/results/."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from pathlib import Path

from marcus.atomic import write_text

RESULTS = Path(__file__).parent / "results"
ALL = ("demo_collection", "crawl_throughput", "crawl_memory", "crawl_robots", "curate_hashing",
       "pair_search", "dedup_quality", "feature_mix", "train_throughput", "eval_metrics",
       "upscaler_render", "detail_search", "dvc_scale", "records_scale", "parquet_reading",
       "pack_codec", "scale", "curate_scale", "style_print")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", default=list(ALL),
                        help=f"any of {', '.join(ALL)} (default: all), or gpu_check")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--sizes", help="comma-separated sizes, for the benchmarks that grow "
                                        "(dvc_scale, scale, curate_scale): e.g. 3000,10000,30000")
    parser.add_argument("--workdir", help="scale only: keep each size's project here, so that "
                                           "the same command goes on after a stop")
    parser.add_argument("--add", action="store_true",
                        help="scale only: add the sizes run to the committed results' runs")
    parser.add_argument("--progress", action="store_true",
                        help="scale only: with --workdir, run nothing; add the figures so far "
                             "of sizes still under way there to the committed results")
    parser.add_argument("--device", choices=["cuda", "cpu"],
                        help="gpu_check only: where to measure (default cuda)")
    parser.add_argument("--tiny", action="store_true",
                        help="gpu_check only: the tiny presets, a smoke run of the script")
    parser.add_argument("--parts", help="style_print only: comma-separated parts to rerun "
                                         "(networks, tiling, parity, print), merged into its "
                                         "committed results")
    parser.add_argument("--variants", help="style_print's parity part only: comma-separated "
                                            "variants to rerun beside the plain run, the "
                                            "committed others kept")
    parser.add_argument("--stylegan2-ada", metavar="CHECKOUT",
                        help="train_throughput only: a local checkout of "
                             "NVlabs/stylegan2-ada-pytorch, timed side by side with ours")
    args = parser.parse_args()
    extra = {k: v for k, v in (("workdir", args.workdir), ("add", args.add),
                               ("progress", args.progress)) if v}
    if extra and args.names != ["scale"]:
        parser.error(f"--{' --'.join(extra)}: for `scale` alone")
    if args.progress and not args.workdir:
        parser.error("--progress: reads the sizes kept in a --workdir")
    if (args.device or args.tiny) and args.names != ["gpu_check"]:
        parser.error("--device, --tiny: for `gpu_check` alone")
    if args.stylegan2_ada and args.names != ["train_throughput"]:
        parser.error("--stylegan2-ada: for `train_throughput` alone")
    if args.names == ["gpu_check"]:
        extra = {"device": args.device or "cuda", "tiny": args.tiny}
    if args.stylegan2_ada:
        extra = {"stylegan2_ada": args.stylegan2_ada}
    if args.parts:
        if args.names != ["style_print"]:
            parser.error("--parts: for `style_print` alone")
        extra = {"parts": tuple(p.strip() for p in args.parts.split(",") if p.strip())}
    if args.variants:
        if "parity" not in extra.get("parts", ()):
            parser.error("--variants: for `style_print --parts parity` alone")
        extra["variants"] = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    for name in args.names:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.time()
        if args.sizes:
            extra["sizes"] = tuple(int(n) for n in args.sizes.split(","))
        result = module.run(quick=args.quick, **extra)
        result["_machine"] = {"cpus": __import__("os").cpu_count(),
                              "python": platform.python_version(),
                              "when": time.strftime("%Y-%m-%d %H:%M", time.gmtime(started))}
        text = json.dumps(result, indent=2)
        suffix = "-quick" if args.quick else "-tiny" if args.tiny else ""
        write_text(RESULTS / f"{name}{suffix}.json", text + "\n")
        print(f"== {name}\n{text}")
        if hasattr(module, "summary"):
            print(module.summary(result))


if __name__ == "__main__":
    main()
