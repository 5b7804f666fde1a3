"""The stage ``curate``: all sources together, after ``hash@SOURCE`` (``curate/hash_stage.py``).

``curate`` joins all records with their hashes and then:

1. clusters near-duplicates across sources (``curate/dedup.py``), joined where a ``same_as``
   link says two records are one painting (``curate/identity.py``);
2. checks every rule for every record (``curate/filters.py``, ``curate/licence.py``);
3. elects one canonical copy per cluster among the copies that pass every rule: the largest
   pixel count, then the source earliest in ``source_priority``, then the smallest key;
4. drops artists with fewer than ``min_works_per_artist`` curated works;
5. writes the manifests (``curate/manifests.py``), metrics and plots.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curate import manifests
from curate.feature_store import FeatureStore
from curate.filters import FilterConfig, artist_key, failed_rules
from demo.settings import GROUND_TRUTH_FILE
from marcus.atomic import scratch_dir, write_text
from marcus.timings import peak_rss_mib

# What the rules of curate/filters.py read of a record.
RULE_COLUMNS = ("status", "reason", "hash_error", "license", "is_public_domain_flag",
                "artist_death_year", "date_start", "date_end", "attribution_qualifier",
                "object_type", "width", "height", "genre", "artist")


HAMMING_PLOT_IMAGES = 50_000  # images whose pairs plots/curate/hamming.csv counts, at most


# ----------------------------------------------------------------------------------------------
# Stage curate


class Phases:
    """Wall seconds and peak RSS at the end of each step of a run, printed to stderr as it
    goes: at a million records curate runs for an hour, and its user should see where.
    ``python -m benchmarks curate_scale`` reads ``rows``."""

    def __init__(self, echo: bool = True):
        self.rows: list[dict] = []
        self.echo = echo
        self._last = time.perf_counter()

    def done(self, name: str, **counts: int) -> None:
        """The step ``name`` ended now; ``counts``: how much it did (e.g. ``pairs=...``)."""
        now = time.perf_counter()
        peak_mib = peak_rss_mib()
        self.rows.append({"phase": name, "wall_s": round(now - self._last, 2),
                          "peak_rss_mib": round(peak_mib), **counts})
        self._last = now
        if self.echo:
            did = "".join(f", {v:,} {k}" for k, v in counts.items())
            print(f"curate: {name} in {self.rows[-1]['wall_s']:.1f} s{did}, "
                  f"peak RSS {peak_mib:,.0f} MiB", file=sys.stderr, flush=True)


# Columns that curate never reads, left on disk until the records manifest copies them
# (``raw_records``): the raw record alone is about 2 KB, 2 GB at a million records.
LEFT_ON_DISK = ("raw_record",)  # of records.parquet
# Of the hashes: read for clustering only, into scratch files (`FeatureStore.gather`).
HASH_COLUMNS_LEFT_ON_DISK = ("thumb", "local_features")


def _columns_but(path: Path, left: tuple[str, ...]) -> list[str]:
    return [name for name in pq.read_schema(path).names if name not in left]


def load_records(crawl_root: Path, hashes_root: Path, sources: list[str]) -> pd.DataFrame:
    """Every record of ``sources`` with its image's hashes, sorted by ``key``; without the
    columns ``LEFT_ON_DISK`` and ``HASH_COLUMNS_LEFT_ON_DISK``."""
    frames = []
    for source in sources:
        path = crawl_root / source / "records.parquet"
        hashes_path = hashes_root / f"{source}.parquet"
        records = pd.read_parquet(path, columns=_columns_but(path, LEFT_ON_DISK))
        hashes = pd.read_parquet(hashes_path,
                                 columns=_columns_but(hashes_path, HASH_COLUMNS_LEFT_ON_DISK))
        hashes = hashes.rename(columns={"error": "hash_error", "width": "hash_width",
                                        "height": "hash_height", "format": "hash_format"})
        frames.append(records.merge(hashes.drop_duplicates("sha256"), on="sha256", how="left"))
    frame = pd.concat(frames, ignore_index=True)
    # Hashes from two decode+hash pipelines differ by a few bits for the same image, so one
    # index must never mix them (e.g. one source's hash file left from an older code version).
    hashed = frame.dropna(subset=["hash_pipeline"])
    if hashed["hash_pipeline"].nunique() > 1:
        by_source = hashed.groupby("source")["hash_pipeline"].unique().map(sorted).to_dict()
        raise ValueError(f"hash files from different hash pipelines ({by_source}): rehash "
                         "every source with one code version (dvc repro)")
    for column in ("genre", "movement", "same_as", "accession_number"):  # older schemas lack them
        if column not in frame:
            frame[column] = None
    frame["key"] = frame["source"] + ":" + frame["source_id"]
    return frame.sort_values("key", ignore_index=True)


def raw_records(crawl_root: Path, source: str, part: pd.DataFrame) -> dict[str, pa.Array]:
    """The ``LEFT_ON_DISK`` columns of one source's records (``part``, in its order), read
    back from its crawl for the records manifest."""
    path = crawl_root / source / "records.parquet"
    names = set(pq.read_schema(path).names)
    table = pq.read_table(path, columns=["source_id", *(n for n in LEFT_ON_DISK if n in names)])
    position = pd.Series(np.arange(len(table)), index=table["source_id"].to_pandas())
    rows = pa.array(position.loc[part["source_id"]].to_numpy())
    return {name: table[name].take(rows).combine_chunks() if name in names
            else pa.nulls(len(part), pa.string()) for name in LEFT_ON_DISK}


def curate(config: dict, sources: list[str], crawl_root: Path, hashes_root: Path, out: Path,
           metrics_path: Path | None = None, plots_dir: Path | None = None,
           demo_root: Path | None = None, phases: Phases | None = None,
           verdicts_dir: Path | None = None) -> dict:
    """Curate the crawls of ``sources`` per ``config`` (the checked ``curate`` section); with
    ``demo_root``, the metrics score de-duplication against the demo's ground truth when that
    folder holds one. ``phases`` times each step (default: printed to stderr).
    ``verdicts_dir``: where the pair verdicts are kept between runs (`curate.verdicts`), so
    that a killed run resumes and a run after new crawls judges only new pairs; None: none
    are kept."""
    from curate.dedup import cluster
    from curate.identity import join_linked, link_metrics
    from curate.verdicts import VerdictCache, verdict_namespace

    phases = phases or Phases()
    filters = FilterConfig.from_params(config)
    records = load_records(crawl_root, hashes_root, sources)
    phases.done("load records and hashes", records=len(records))

    # 1. Near-duplicate clusters among the stored, readable images.
    hashed = records[(records["status"] == "stored") & records["phash"].notna()
                     & records["hash_error"].isna()]
    rows = hashed.reset_index(drop=True)
    # The thumbnails and local features stay on disk, read back per image (4 KB and up to
    # 136 KB an image: gigabytes at 100,000 images).
    verdicts = contextlib.nullcontext() if verdicts_dir is None else \
        VerdictCache.open(verdicts_dir, verdict_namespace(config["features"]))
    with scratch_dir(out) as scratch, FeatureStore.gather(
            hashes_root, sources, rows["sha256"], scratch / "thumbnails", "thumb") as thumbs, \
            FeatureStore.gather(hashes_root, sources, rows["sha256"],
                                scratch / "local_features") as features, verdicts as stored:
        phases.done("local features gathered", images=int((features.sizes >= 0).sum()),
                    thumbnails=int((thumbs.sizes >= 0).sum()),
                    **({"stored_verdicts": len(stored)} if stored is not None else {}))
        clusters = cluster(rows, **config["dedup"], workers=config["workers"] or None,
                           phases=phases, features=features, thumbs=thumbs, verdicts=stored)
    if stored is not None:  # closed: the verdicts this run used are on disk, sorted
        phases.done("pair verdicts kept", reused=stored.hits, judged=stored.computed)
    del rows
    clusters.index = hashed.index
    for column in ("cluster_id", "match_distance", "matched_by", "match_inliers"):
        records[column] = clusters[column] if column in clusters else None
    records["cluster_id"] = records["cluster_id"].fillna(-1).astype("int64")
    # ...joined where a same_as link says two records are one painting (curate/identity.py).
    records, links = join_linked(records)
    records["cluster_size"] = records.groupby("cluster_id")["key"].transform("size")
    records.loc[records["cluster_id"] < 0, "cluster_size"] = 0
    phases.done("clusters joined by same_as links")

    # 2. Every rule for every record.
    # One row dict at a time (a dict per record at once would be gigabytes at 1M records).
    columns = [c for c in RULE_COLUMNS if c in records]
    outcome = [failed_rules(dict(zip(columns, values, strict=True)), filters)
               for values in zip(*(records[c] for c in columns), strict=True)]
    records["reasons"] = [r for r, _ in outcome]
    records["licence_rule"] = [verdict.rule for _, verdict in outcome]
    records["disagreement"] = [verdict.disagreement for _, verdict in outcome]
    phases.done("rules")

    # 3. One canonical copy per cluster, among the copies that pass every rule.
    priority = {s: i for i, s in enumerate(config["source_priority"] or sources)}
    records["pixels"] = records["width"].fillna(0) * records["height"].fillna(0)
    records["is_canonical"] = False
    passing = records[[not r for r in records["reasons"]]]
    order = passing.assign(prio=passing["source"].map(priority).fillna(len(priority))) \
        .sort_values(["pixels", "prio", "key"], ascending=[False, True, True])
    alone = order["cluster_id"] < 0
    first = order[~alone].drop_duplicates("cluster_id")  # the best passing copy per cluster
    records.loc[order.index[alone], "is_canonical"] = True
    records.loc[first.index, "is_canonical"] = True
    others = order[~alone].drop(index=first.index)
    canonical_key = others["cluster_id"].map(first.set_index("cluster_id")["key"])
    records.loc[others.index, "reasons"] = pd.Series(
        [[f"duplicate_of:{key}"] for key in canonical_key], index=others.index, dtype=object)

    # 4. Artists with too few works left.
    minimum = config["min_works_per_artist"]
    if minimum > 1:
        chosen = records["is_canonical"] & records["reasons"].map(len).eq(0)
        counts = Counter(records.loc[chosen, "artist"].map(artist_key))
        for index in records.index[chosen]:
            if counts[artist_key(records.at[index, "artist"])] < minimum:
                records.at[index, "reasons"] = [f"artist_min_works:<{minimum}"]
    records["curated"] = records["reasons"].map(len).eq(0)
    phases.done("canonical copies")

    # 5. Manifests.
    write_manifests(records, crawl_root, out, config["hf_export"])
    manifests.write(links, manifests.LINKS_SCHEMA, out / "same_as.parquet")
    phases.done("manifests")
    truth = demo_root / GROUND_TRUTH_FILE if demo_root is not None else None
    metrics = curation_metrics(records, truth)
    metrics["same_as"] = link_metrics(links)
    if metrics_path:
        write_text(metrics_path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    if plots_dir:
        write_plots(records, hashed, plots_dir, config["dedup"]["max_distance"])
    phases.done("metrics and plots")
    return metrics


def write_manifests(records: pd.DataFrame, crawl_root: Path, out: Path,
                    hf_export: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    manifests.write_partitioned(records, manifests.RECORDS_MANIFEST_SCHEMA, out / "records",
                                columns_of=lambda source, part: raw_records(crawl_root, source,
                                                                            part))
    in_clusters = records[records["cluster_id"] >= 0]
    manifests.write(in_clusters, manifests.CLUSTERS_SCHEMA, out / "clusters.parquet")

    curated = records[records["curated"]].copy()
    copies = in_clusters.groupby("cluster_id")["key"].apply(sorted).to_dict()
    curated["copies"] = [copies.get(c, [k]) if c >= 0 else [k]
                         for c, k in zip(curated["cluster_id"], curated["key"], strict=True)]
    provenance = records.groupby("identity")["key"].apply(sorted).to_dict()
    curated["provenance"] = curated["identity"].map(provenance)
    manifests.write(curated, manifests.CURATED_SCHEMA, out / "curated.parquet")
    manifests.write(records[~records["curated"]], manifests.REJECTS_SCHEMA,
                    out / "rejects.parquet")

    disagreeing = records[records["disagreement"].notna()]
    manifests.write(disagreeing, manifests.DISAGREEMENT_SCHEMA,
                    out / "licence_disagreements.parquet")
    if hf_export:
        manifests.write_hf_export(curated, crawl_root, out / "hf")
    else:
        manifests.remove(out / "hf")


def _rule_name(reason: str) -> str:
    return reason.split(":")[0] if not reason.startswith(("crawl:", "licence:")) \
        else ":".join(reason.split(":")[:2])


def curation_metrics(records: pd.DataFrame, truth_path: Path | None = None) -> dict:
    curated = records[records["curated"]]
    per_rule = Counter(_rule_name(r) for reasons in records["reasons"] for r in reasons)
    century = Counter(f"{int(y) // 100 + 1}th" for y in curated["date_start"].dropna())
    multi = records[records["cluster_size"] > 1]
    metrics = {
        "records": len(records),
        "stored": int((records["status"] == "stored").sum()),
        "curated": len(curated),
        "per_source": {s: {"records": int((records["source"] == s).sum()),
                           "curated": int((curated["source"] == s).sum())}
                       for s in sorted(records["source"].unique())},
        "rejected_by_rule": dict(sorted(per_rule.items())),
        "curated_per_century": dict(sorted(century.items())),
        "duplicate_clusters": int(multi["cluster_id"].nunique()),
        "images_in_duplicate_clusters": len(multi),
    }
    if truth_path is not None and truth_path.is_file():
        metrics["dedup_vs_ground_truth"] = dedup_quality(records, pd.read_parquet(truth_path))
    return metrics


def dedup_quality(records: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Pairwise precision and recall of the clusters against the demo's ground truth.

    Records are joined to the truth by (source, source_id), and URL-list records (whose ids
    are ours, not the source's) by the sha256 of their original bytes.
    """
    stored = records[records["cluster_id"] >= 0]
    by_id = truth.set_index(["source", "source_id"])["artwork_id"].to_dict()
    by_sha = truth.dropna(subset=["file_sha256"]).drop_duplicates("file_sha256") \
        .set_index("file_sha256")
    transform_by_id = truth.set_index(["source", "source_id"])["transform"].to_dict()
    artwork, transform = [], []
    for row in stored.itertuples():
        if row.source == "urls" and row.sha256 in by_sha.index:
            artwork.append(by_sha.at[row.sha256, "artwork_id"])
            transform.append(by_sha.at[row.sha256, "transform"])
        else:
            artwork.append(by_id.get((row.source, row.source_id), -1))
            transform.append(transform_by_id.get((row.source, row.source_id), "unknown"))
    frame = pd.DataFrame({"artwork": artwork, "transform": transform,
                          "cluster": stored["cluster_id"].to_numpy()})
    frame = frame[frame["artwork"] >= 0]

    def pairs(sizes: pd.Series) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    tp = pairs(frame.groupby(["artwork", "cluster"]).size())
    true_pairs = pairs(frame.groupby("artwork").size())
    found_pairs = pairs(frame.groupby("cluster").size())
    result = {"pairs_true": true_pairs, "pairs_found": found_pairs,
              "precision": round(tp / found_pairs, 4) if found_pairs else 1.0,
              "recall": round(tp / true_pairs, 4) if true_pairs else 1.0, "per_transform": {}}
    # A true pair belongs to each transform one of its two members shows (a copy shows one to
    # three: "crop+colour+mirror").
    def singles(*members) -> set:
        return {n for m in members for n in str(m.transform).split("+")} - \
            {"original", "unknown"}

    per: dict[str, list[int]] = {}
    for _, group in frame.groupby("artwork"):
        for x, y in itertools.combinations(group.itertuples(index=False), 2):
            for name in singles(x, y):
                counts = per.setdefault(name, [0, 0])
                counts[0] += 1
                counts[1] += x.cluster == y.cluster
    # A found pair that joins two artworks is false; it counts against both members' transforms.
    # Hard negatives: other works of one series, a work and its replica (another hand).
    series = truth.drop_duplicates("artwork_id").set_index("artwork_id")["series_id"] \
        if "series_id" in truth else pd.Series(dtype="int64")
    hand = truth.drop_duplicates("artwork_id").set_index("artwork_id")["hand"] \
        if "hand" in truth else pd.Series(dtype="int64")
    false_by: dict[str, int] = {}
    merged_series = merged_replicas = 0
    for _, group in frame.groupby("cluster"):
        for x, y in itertools.combinations(group.itertuples(index=False), 2):
            if x.artwork != y.artwork:
                for name in singles(x, y) or {"original"}:
                    false_by[name] = false_by.get(name, 0) + 1
        works = [a for a in group["artwork"].drop_duplicates() if series.get(a, -1) >= 0]
        for a, b in itertools.combinations(works, 2):
            if series[a] == series[b]:
                merged_series += 1
                merged_replicas += hand.get(a, 0) != hand.get(b, 0)
    result["series_pairs_merged"] = merged_series
    result["replica_pairs_merged"] = merged_replicas  # of those, a work and its replica
    result["per_transform"] = {}
    for name in sorted(set(per) | set(false_by)):
        n, found = per.get(name, (0, 0))
        wrong = false_by.get(name, 0)
        result["per_transform"][name] = {
            "pairs": n, "recall": round(found / n, 4) if n else 1.0, "false_pairs": wrong,
            "precision": round(found / (found + wrong), 4) if found + wrong else 1.0}
    # A "detail" (a museum's close-up of part of the work) is the hardest case (found by the
    # window search, not by any hash); report recall without those pairs too.
    detail_pairs = sum(n for name, (n, _) in per.items() if "detail" in name)
    detail_found = sum(f for name, (_, f) in per.items() if "detail" in name)
    rest = true_pairs - detail_pairs
    result["recall_without_details"] = round((tp - detail_found) / rest, 4) if rest else 1.0
    return result


def write_plots(records: pd.DataFrame, hashed: pd.DataFrame, folder: Path,
                max_distance: int) -> None:
    from curate.pairs import near_pairs

    folder.mkdir(parents=True, exist_ok=True)
    values = np.array([int(h, 16) for h in hashed["phash"]], dtype=np.uint64)
    # Pairs within twice the threshold grow as N^2 (0.2 % of all pairs of unrelated images
    # lie within 20 bits): beyond HAMMING_PLOT_IMAGES, a fixed evenly spaced sample of them.
    if len(values) > HAMMING_PLOT_IMAGES:
        values = values[np.linspace(0, len(values) - 1, HAMMING_PLOT_IMAGES).astype(np.int64)]
    _, _, dist = near_pairs(values, min(2 * max_distance, 24))
    hist = np.bincount(dist.astype(np.int64), minlength=min(2 * max_distance, 24) + 1)
    write_text(folder / "hamming.csv", "distance,pairs\n" + "".join(
        f"{d},{c}\n" for d, c in enumerate(hist.tolist())))
    curated = records[records["curated"] & records["date_start"].notna()]
    decades = curated.assign(decade=(curated["date_start"] // 10 * 10).astype(int)) \
        .groupby(["decade", "source"]).size().reset_index(name="images")
    write_text(folder / "decades.csv", decades.to_csv(index=False))


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
