"""crawl.storage: the image store names each blob by its content and writes it once."""

from __future__ import annotations

import hashlib

import pytest

from crawl.storage import ContentStore
from tests.images import encode, painting


def test_store_names_blobs_by_content_and_writes_once(tmp_path):
    store = ContentStore(tmp_path / "images")
    data = encode(painting((64, 48)), "JPEG", quality=90)
    sha, new = store.put(data)
    assert new and sha == hashlib.sha256(data).hexdigest()
    assert store.path(sha) == tmp_path / "images" / sha[:2] / sha
    assert store.put(data) == (sha, False)
    assert store.verify(sha) and store.get(sha) == data
    assert not [p for p in store.path(sha).parent.iterdir() if p.name != sha]  # no temp files
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")
