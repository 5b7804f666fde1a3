"""What a 3 MB robots.txt costs a crawl: crawl/robots.py vs Scrapy's default (Protego).

    .venv/bin/python -m benchmarks crawl_robots    # writes benchmarks/results/crawl_robots.json

Target (issue "Crawl hardening"): a big robots.txt is read up to 500 KiB and compiled once per
host, so it must not cost on every request as it does with Protego, whose per-URL
``can_fetch`` walks the rules of the matching group.

Two measurements:
- ``crawl``: the real CLI (``python -m crawl urls``) crawls 50 small images listed on a loopback
  static server, once with a two-line robots.txt and once with a 3 MB one, for each of our
  set-up (crawl.robots: middleware + parser) and Scrapy's own (its RobotsTxtMiddleware and
  ProtegoRobotParser, swapped in by a wrapper); each run repeated, medians kept, variants
  interleaved. ``added_*_s`` = 3 MB minus small, wall-clock and crawler CPU; the ratios compare
  the two set-ups' added times. With 50 records that is mostly the one-off parse;
  ``per_url.seconds_per_10000_urls_3mb`` is what a long crawl pays on top.
- ``per_url``: ``allowed()`` in this process, microseconds per URL over 2,000 URLs (allowed
  and disallowed), for the small and the 3 MB file; ours also on a 4 kB file with the same 40
  wildcard rules and on the whole 3 MB (no 500 KiB cut): equal, the plain rules cost nothing
  per URL; and on 500 KiB of nothing but wildcard rules (their worst case; crawl/robots.py).

The 3 MB file: a ``*`` group first (40 wildcard rules, then 1.5 MB of plain Disallow/Allow
pairs), then groups for other agents, as big sites write them.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.crawl_throughput import make_images, serve_folder
from crawl.blobs import StoreIndex

REPO = Path(__file__).resolve().parents[1]
UA = "MarcusBot/0.1 (open-access paintings dataset; someone@example.org) Scrapy"
SMALL = b"User-agent: *\nDisallow: /private/\n"

# Runs the crawl CLI with Scrapy's own robots.txt handling in place of crawl/robots.py.
_SCRAPY_DEFAULT = """
import sys
import crawl.run
ours = crawl.run.scrapy_settings
def scrapy_default(*args, **kwargs):
    settings = ours(*args, **kwargs)
    settings["ROBOTSTXT_PARSER"] = "scrapy.robotstxt.ProtegoRobotParser"
    settings["DOWNLOADER_MIDDLEWARES"] = {
        **settings["DOWNLOADER_MIDDLEWARES"], "crawl.robots.RobotsTxtMiddleware": None,
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100}
    return settings
crawl.run.scrapy_settings = scrapy_default
from crawl.__main__ import main
sys.exit(main())
"""


def big_robots(size: int, wildcard_rules: int = 40, star_share: float = 0.5) -> bytes:
    lines = ["User-agent: *"] + [f"Disallow: /*/secret{w}*.pdf$" for w in range(wildcard_rules)]
    total, r = sum(len(x) + 1 for x in lines), 0
    while total < size * star_share:
        lines += [f"Disallow: /private{r}/page", f"Allow: /private{r}/page/public"]
        total += sum(len(x) + 1 for x in lines[-2:])
        r += 1
    g = 0
    while total < size:
        lines += [""] + [f"User-agent: otherbot{g}"] + [f"Disallow: /o{g}/s{i}/" for i in range(20)]
        total += sum(len(x) + 1 for x in lines[-22:])
        g += 1
    return ("\n".join(lines) + "\n").encode()


def wildcard_robots(size: int) -> bytes:
    lines, total, r = ["User-agent: *"], 14, 0
    while total < size:
        lines.append(f"Disallow: /*/s{r}/*.pdf$")
        total += len(lines[-1]) + 1
        r += 1
    return ("\n".join(lines) + "\n").encode()


def sample_urls() -> list[str]:
    urls = [f"https://example.org/public/collection/v1/objects/{i}" for i in range(1500)]
    urls += [f"https://example.org/private{i}/page/x" for i in range(0, 5000, 10)]  # disallowed
    return urls


def per_url_us(parser, urls: list[str], allowed) -> float:
    allowed(parser, urls[0])  # compiles the group (ours) / builds its index (Protego)
    started = time.perf_counter()
    for url in urls:
        allowed(parser, url)
    return round((time.perf_counter() - started) / len(urls) * 1e6, 2)


def measure_per_url(large: bytes) -> dict:
    from protego import Protego

    from crawl.robots import RobotsTxtParser

    urls = sample_urls()
    ours = lambda p, u: p.allowed(u, UA)  # noqa: E731
    protego = lambda p, u: p.can_fetch(u, UA)  # noqa: E731
    result: dict = {"urls": len(urls)}
    for name, body in (("small", SMALL), ("3mb", large)):
        started = time.perf_counter()
        parser = Protego.parse(body.decode("utf-8", "ignore"))
        parse_s = time.perf_counter() - started
        result[f"protego_{name}_us"] = per_url_us(parser, urls, protego)
        result[f"protego_{name}_parse_s"] = round(parse_s, 3)
    cases = (("small", SMALL, None), ("small_same_wildcards", big_robots(4000), None),
             ("3mb", large, None), ("3mb_uncut", large, 10**9),
             ("500kib_wildcards_only", wildcard_robots(500 * 1024 - 100), None))
    for name, body, limit in cases:
        started = time.perf_counter()
        parser = RobotsTxtParser(body) if limit is None else RobotsTxtParser(body, limit)
        parser.allowed(urls[0], UA)
        result[f"ours_{name}_parse_and_compile_s"] = round(time.perf_counter() - started, 3)
        result[f"ours_{name}_us"] = per_url_us(parser, urls, ours)
    # 50 records mostly show the one-off parse; per URL is what a long crawl pays.
    result["seconds_per_10000_urls_3mb"] = {
        "protego": round(result["protego_3mb_us"] * 1e4 / 1e6, 2),
        "ours": round(result["ours_3mb_us"] * 1e4 / 1e6, 2)}
    result["protego_growth_3mb_over_small"] = round(result["protego_3mb_us"]
                                                    / result["protego_small_us"], 1)
    # The same 40 wildcard rules in both: what is left is what the plain rules cost.
    result["ours_growth_3mb_uncut_over_small"] = round(result["ours_3mb_uncut_us"]
                                                       / result["ours_small_same_wildcards_us"], 1)
    return result


def crawl_once(work: Path, port: int, wrapper: Path | None) -> dict:
    out = work / "out"
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    command = [sys.executable, *([str(wrapper)] if wrapper else ["-m", "crawl"]), "urls",
               "--out", str(out), "--params", str(work / "params.yaml"),
               "--api-root", f"http://127.0.0.1:{port}"]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=work, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(stderr.decode()[-2000:])
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "stored": len(StoreIndex(out / "images"))}


def measure_crawls(large: bytes, images: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        site = work / "site"
        make_images(site, images, 64, seed=3)
        queue = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve_folder, args=(str(site), queue), daemon=True)
        server.start()
        port = queue.get(timeout=30)
        with open(work / "list.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["url", "license"])
            writer.writerows([f"http://127.0.0.1:{port}/{p.name}", "Public Domain"]
                             for p in sorted(site.iterdir()))
        params = yaml.safe_load((REPO / "params.yaml").read_text())
        params["crawl"].update(progress=False, fsync=False)
        params["crawl"]["sources"]["urls"].update(list=str(work / "list.csv"))
        (work / "params.yaml").write_text(yaml.safe_dump(params))
        wrapper = work / "scrapy_default.py"
        wrapper.write_text(_SCRAPY_DEFAULT)
        runs: dict = {}
        try:
            for _ in range(repeats):  # interleaved: machine load hits every variant alike
                for robots_name, body in (("small", SMALL), ("3mb", large)):
                    (site / "robots.txt").write_bytes(body)
                    for setup, wrap in (("ours", None), ("scrapy_protego", wrapper)):
                        run = crawl_once(work, port, wrap)
                        assert run["stored"] == images, run
                        runs.setdefault((setup, robots_name), []).append(run)
                (site / "robots.txt").unlink()
        finally:
            server.terminate()
            server.join()
    result: dict = {"records": images, "repeats": repeats}
    for setup in ("ours", "scrapy_protego"):
        entry = {}
        for robots_name in ("small", "3mb"):
            for key in ("wall_s", "cpu_s"):
                entry[f"{robots_name}_{key}"] = round(
                    statistics.median(r[key] for r in runs[(setup, robots_name)]), 3)
        entry["added_wall_s"] = round(entry["3mb_wall_s"] - entry["small_wall_s"], 3)
        entry["added_cpu_s"] = round(entry["3mb_cpu_s"] - entry["small_cpu_s"], 3)
        result[setup] = entry
    for key in ("wall", "cpu"):  # wall-clock is what a crawl waits; CPU is steadier
        result[f"added_{key}_ratio_scrapy_over_ours"] = round(
            result["scrapy_protego"][f"added_{key}_s"]
            / max(result["ours"][f"added_{key}_s"], 0.01), 1)
    return result


def run(quick: bool = False) -> dict:
    large = big_robots(3_000_000)
    return {"robots_txt_bytes": {"small": len(SMALL), "3mb": len(large)},
            "per_url": measure_per_url(large),
            "crawl": measure_crawls(large, images=50, repeats=1 if quick else 5)}
