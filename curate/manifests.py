"""Fixed Parquet schemas of the curation manifests, and how they are written.

- ``records/source=*/``: every crawled record of all sources (hive-partitioned by source),
  with the curation outcome and every reason;
- ``clusters.parquet``: each stored image in a duplicate cluster, and the elected copy;
- ``curated.parquet``: the training set, with licence evidence and provenance;
- ``rejects.parquet``: each record not in the training set, with every rule it failed;
- ``licence_disagreements.parquet``: records whose flag and dates disagree, for review;
- ``hf/train-{i:05d}-of-{n:05d}.parquet``: the curated set with image bytes, for Hugging Face
  ``datasets``, in shards of at most ``HF_SHARD_BYTES`` of images.

All carry ``schema_version``; columns are documented in the README.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crawl.blobs import Blob, CrawlStores
from crawl.records import RECORDS_SCHEMA
from marcus.atomic import atomic_dir, atomic_path
from marcus.errors import UserError

SCHEMA_VERSION = 5  # 2: genre, movement (and the records columns genre, movement, same_as);
# 3: accession_number, and the resolved_key of a same_as link; 4: no image_path (the content
# store keeps images in packs, found by source and sha256: crawl/blobs.py); 5: match_inliers,
# and matched_by "local" / "local_mirrored" (curate/local_features.py)

CURATION_FIELDS = [
    ("key", pa.string()),  # "source:source_id"
    ("phash", pa.string()), ("hash_error", pa.string()), ("hash_pipeline", pa.string()),
    ("cluster_id", pa.int64()), ("cluster_size", pa.int32()), ("is_canonical", pa.bool_()),
    ("match_distance", pa.int32()), ("matched_by", pa.string()),
    ("match_inliers", pa.int32()),  # local-feature inliers of the deciding pair; -1: none
    ("identity", pa.string()),  # the smallest key of the records of one painting
    ("licence_rule", pa.string()), ("curated", pa.bool_()),
    ("reasons", pa.list_(pa.string())),
]
RECORDS_MANIFEST_SCHEMA = pa.schema(list(RECORDS_SCHEMA) + [pa.field(n, t)
                                                            for n, t in CURATION_FIELDS])

CURATED_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("key", pa.string()), ("source", pa.string()),
    ("source_id", pa.string()), ("accession_number", pa.string()),
    ("sha256", pa.string()),  # with source, where the image is: crawl.blobs.CrawlStores
    ("width", pa.int32()), ("height", pa.int32()), ("format", pa.string()),
    ("phash", pa.string()), ("title", pa.string()), ("artist", pa.string()),
    ("attribution_qualifier", pa.string()),
    ("artist_birth_year", pa.int32()), ("artist_death_year", pa.int32()),
    ("date_text", pa.string()), ("date_start", pa.int32()), ("date_end", pa.int32()),
    ("object_type", pa.string()), ("medium", pa.string()),
    ("genre", pa.string()), ("movement", pa.string()),
    ("license", pa.string()), ("licence_rule", pa.string()),
    ("page_url", pa.string()), ("image_url", pa.string()),
    ("cluster_id", pa.int64()), ("copies", pa.list_(pa.string())),
    ("provenance", pa.list_(pa.string())),  # every record of the painting, stored or not
])

LINKS_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("key", pa.string()),
    ("linked_key", pa.string()),  # as stated: "met:436535", "cleveland:accession:1958.31"
    ("resolved_key", pa.string()),  # the record it names; None: none or several
    ("resolved", pa.bool_()), ("state", pa.string()),  # curate/identity.py LINK_STATES
])

CLUSTERS_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("cluster_id", pa.int64()), ("key", pa.string()),
    ("source", pa.string()), ("sha256", pa.string()), ("width", pa.int32()),
    ("height", pa.int32()), ("is_canonical", pa.bool_()), ("match_distance", pa.int32()),
    ("matched_by", pa.string()), ("match_inliers", pa.int32()),
])

REJECTS_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("key", pa.string()), ("source", pa.string()),
    ("source_id", pa.string()), ("sha256", pa.string()), ("title", pa.string()),
    ("artist", pa.string()), ("reasons", pa.list_(pa.string())),
    ("licence_rule", pa.string()),
])

DISAGREEMENT_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("key", pa.string()), ("license", pa.string()),
    ("is_public_domain_flag", pa.bool_()), ("artist", pa.string()),
    ("artist_death_year", pa.int32()), ("date_end", pa.int32()),
    ("attribution_qualifier", pa.string()), ("licence_rule", pa.string()),
    ("disagreement", pa.string()),
])


def to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Select and order the schema's columns; ``schema_version`` is filled in."""
    frame = frame.assign(schema_version=SCHEMA_VERSION)
    columns = {}
    for f in schema:
        values = frame[f.name].tolist() if f.name in frame else [None] * len(frame)
        columns[f.name] = [None if _is_nan(v) else v for v in values]
    return pa.Table.from_pydict(columns, schema=schema)


def _is_nan(value) -> bool:
    return isinstance(value, float) and value != value


def write(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(to_table(frame, schema), tmp)


def write_partitioned(frame: pd.DataFrame, schema: pa.Schema, folder: Path,
                      partition: str = "source", columns_of=None) -> None:
    """Hive-partitioned copy (``folder/source=met/part-0.parquet``), swapped in atomically.
    ``columns_of(value, part)``, if given, returns arrays for columns of the schema that the
    frame does not hold (read from elsewhere one partition at a time)."""
    with atomic_dir(folder) as tmp:
        for value, part in frame.groupby(partition, sort=True):
            target = tmp / f"{partition}={value}"
            target.mkdir()
            table = to_table(part, schema)
            for name, array in (columns_of(value, part) if columns_of else {}).items():
                index = schema.get_field_index(name)
                table = table.set_column(index, schema.field(index), array)
            # The value lives in the folder name; a column of the same name would clash.
            pq.write_table(table.drop_columns([partition]), target / "part-0.parquet")


HF_SHARD_BYTES = 500 * 10**6  # image bytes per shard, at most; the Hub advises a few hundred MB
HF_ROW_GROUP_ROWS = 100  # rows per row group, at most: one group's images are in memory at a time
HF_ROW_GROUP_BYTES = 64 * 2**20  # ...and image bytes per row group, at most (or one larger image)
_HF_IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def write_hf_export(curated: pd.DataFrame, root: Path, folder: Path, *,
                    shard_bytes: int = HF_SHARD_BYTES,
                    row_group_rows: int = HF_ROW_GROUP_ROWS,
                    row_group_bytes: int = HF_ROW_GROUP_BYTES) -> None:
    """Parquet shards ``train-00000-of-0000N.parquet`` that Hugging Face ``datasets`` loads with
    an Image column (bytes and path), swapped in as one folder.

    Shards are cut in row order by image bytes (at most ``shard_bytes``, or one larger image),
    from the files' sizes before any is read, so every name is final; only one row group (at
    most ``row_group_rows`` images and ``row_group_bytes``: museum originals reach 100 MB) is
    in memory at a time. An empty set writes one empty shard.
    """
    stores = CrawlStores(root)
    blobs = [_blob(stores, s, h) for s, h in
             zip(curated["source"], curated["sha256"], strict=True)]
    names = [f"{s}/{h}.{(f or 'bin').lower()}" for s, h, f in
             zip(curated["source"], curated["sha256"], curated["format"], strict=True)]
    sources = curated["source"].tolist()
    sizes = [blob.size for blob in blobs]
    shards = _bounds(sizes, shard_bytes)
    schema = _hf_schema()
    with atomic_dir(folder) as tmp:
        for i, (start, stop) in enumerate(shards):
            name = f"train-{i:05d}-of-{len(shards):05d}.parquet"
            with pq.ParquetWriter(tmp / name, schema) as writer:
                for lo, hi in _bounds(sizes[start:stop], row_group_bytes, row_group_rows):
                    lo, hi = start + lo, start + hi
                    images = [{"bytes": _read_image(b, s), "path": n} for b, s, n in
                              zip(blobs[lo:hi], sources[lo:hi], names[lo:hi], strict=True)]
                    table = to_table(curated.iloc[lo:hi], CURATED_SCHEMA).append_column(
                        pa.field("image", _HF_IMAGE_TYPE), pa.array(images, _HF_IMAGE_TYPE))
                    del images
                    writer.write_table(table, row_group_size=max(1, hi - lo))
                    del table


def _bounds(sizes: list[int], budget: int, max_rows: int | None = None
            ) -> list[tuple[int, int]]:
    """``(start, stop)`` row ranges: a range closes before the image that would take it over
    ``budget`` bytes or ``max_rows`` rows; each holds at least one image, and no images make
    one empty range."""
    bounds, start, total = [], 0, 0
    for i, size in enumerate(sizes):
        if i > start and (total + size > budget or (max_rows and i - start >= max_rows)):
            bounds.append((start, i))
            start, total = i, 0
        total += size
    bounds.append((start, len(sizes)))
    return bounds


def _hf_schema() -> pa.Schema:
    """The curated columns plus ``image``, with the features ``datasets`` reads."""
    import json

    features = {f.name: {"dtype": _hf_dtype(f.type), "_type": "Value"} for f in CURATED_SCHEMA
                if not pa.types.is_list(f.type)}
    features["copies"] = {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}
    features["image"] = {"_type": "Image"}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    return CURATED_SCHEMA.append(pa.field("image", _HF_IMAGE_TYPE)).with_metadata(meta)


def _blob(stores: CrawlStores, source: str, sha256: str) -> Blob:
    """Where a curated image lies; looked up for every row before any shard is written."""
    blob = stores.locate(source, sha256)
    if blob is None:
        raise _damaged_store(stores.crawl_root / source / "images", source,
                             f"it holds no image {sha256}")
    return blob


def _read_image(blob: Blob, source: str) -> bytes:
    try:
        return blob.read()
    except OSError as exc:
        raise _damaged_store(Path(blob.path), source, exc.strerror or str(exc)) from exc


def _damaged_store(path: Path, source: str, why: str) -> UserError:
    return UserError(f"{path}: a curated image is missing or unreadable ({why}): the content "
                     f"store of {source} is damaged; re-run its crawl: "
                     f"`dvc repro crawl@{source}`")


def _hf_dtype(t: pa.DataType) -> str:
    if pa.types.is_int32(t):
        return "int32"
    if pa.types.is_int64(t):
        return "int64"
    if pa.types.is_boolean(t):
        return "bool"
    return "string"


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
