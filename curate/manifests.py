"""Fixed Parquet schemas of the curation manifests, and how they are written.

- ``records/source=*/``: every crawled record of all sources (hive-partitioned by source),
  with the curation outcome and every reason;
- ``clusters.parquet``: each stored image in a duplicate cluster, and the elected copy;
- ``curated.parquet``: the training set, with licence evidence and provenance;
- ``rejects.parquet``: each record not in the training set, with every rule it failed;
- ``licence_disagreements.parquet``: records whose flag and dates disagree, for review;
- ``hf/train.parquet``: the curated set with image bytes, for Hugging Face ``datasets``.

All carry ``schema_version``; columns are documented in the README.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crawl.records import RECORDS_SCHEMA
from marcus.atomic import atomic_dir, atomic_path

SCHEMA_VERSION = 3  # 2: genre, movement (and the records columns genre, movement, same_as);
# 3: accession_number, and the resolved_key of a same_as link

CURATION_FIELDS = [
    ("key", pa.string()),  # "source:source_id"
    ("phash", pa.string()), ("hash_error", pa.string()), ("hash_pipeline", pa.string()),
    ("cluster_id", pa.int64()), ("cluster_size", pa.int32()), ("is_canonical", pa.bool_()),
    ("match_distance", pa.int32()), ("matched_by", pa.string()),
    ("identity", pa.string()),  # the smallest key of the records of one painting
    ("licence_rule", pa.string()), ("curated", pa.bool_()),
    ("reasons", pa.list_(pa.string())),
]
RECORDS_MANIFEST_SCHEMA = pa.schema(list(RECORDS_SCHEMA) + [pa.field(n, t)
                                                            for n, t in CURATION_FIELDS])

CURATED_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("key", pa.string()), ("source", pa.string()),
    ("source_id", pa.string()), ("accession_number", pa.string()),
    ("sha256", pa.string()), ("image_path", pa.string()),
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
    ("matched_by", pa.string()),
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
                      partition: str = "source") -> None:
    """Hive-partitioned copy (``folder/source=met/part-0.parquet``), swapped in atomically."""
    with atomic_dir(folder) as tmp:
        for value, part in frame.groupby(partition, sort=True):
            target = tmp / f"{partition}={value}"
            target.mkdir()
            # The value lives in the folder name; a column of the same name would clash.
            table = to_table(part, schema)
            pq.write_table(table.drop_columns([partition]), target / "part-0.parquet")


def write_hf_export(curated: pd.DataFrame, root: Path, folder: Path) -> None:
    """A Parquet that Hugging Face ``datasets`` loads with an Image column (bytes and path)."""
    import json

    rows = curated.assign(image=[{"bytes": (root / p).read_bytes(), "path": p}
                                 for p in curated["image_path"]])
    table = to_table(rows, CURATED_SCHEMA)
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = table.append_column(pa.field("image", image_type),
                                pa.array(rows["image"].tolist(), type=image_type))
    features = {f.name: {"dtype": _hf_dtype(f.type), "_type": "Value"} for f in CURATED_SCHEMA
                if not pa.types.is_list(f.type)}
    features["copies"] = {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}
    features["image"] = {"_type": "Image"}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    with atomic_dir(folder) as tmp:
        pq.write_table(table, tmp / "train.parquet")


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
