"""Curation: hashes, near-duplicate clusters, licence gate, filters and Parquet manifests.

Run as the DVC stage ``curate`` (``python -m curate run``) or on any folder of images
(``python -m curate dedup DIR -o OUT.parquet``).
"""
