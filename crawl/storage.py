"""Content-addressed storage of original image bytes, in packs (layout: crawl/blobs.py).

Bytes are stored exactly as served (no re-encode); the format lives in the records. Each run
appends the images the store lacks to packs of its own, ``pack-NNNNNN.pack`` with its index
``pack-NNNNNN.idx``, and starts the next pack past ``pack_bytes``. It never opens an earlier
run's file for writing: DVC may have linked that file into its cache, where a write would
change the cached copy too (and the cache is read-only, so the write would fail).

Each image is written, then (with ``fsync``) made durable, then its index record is written
and made durable: once ``put`` returns, a crash cannot lose the image, and a crash inside
``put`` leaves bytes no record points to, which readers never see. Storing an image the store
already holds, in any pack or as a loose file of an older store, writes nothing: the same
painting served twice is stored once. ``put`` may be called from several threads.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from crawl import blobs
from crawl.blobs import Blob, StoreIndex

PACK_BYTES = 1 << 30  # a pack is closed past this size: about 340 paintings of 3 MB


class ContentStore:
    def __init__(self, root: str | os.PathLike, fsync: bool = True,
                 pack_bytes: int = PACK_BYTES):
        self.root = Path(root)
        self.fsync = fsync
        self.pack_bytes = pack_bytes
        self.index = StoreIndex(self.root)
        self._lock = threading.Lock()
        self._number: int | None = None  # this run's open pack
        self._pack = self._index_file = None
        self._size = 0

    def locate(self, sha256: str) -> Blob | None:
        return self.index.locate(sha256)

    def has(self, sha256: str) -> bool:
        return self.index.locate(sha256) is not None

    def get(self, sha256: str) -> bytes:
        blob = self.index.locate(sha256)
        if blob is None:
            raise KeyError(f"the store {self.root} holds no image {sha256}")
        return blob.read()

    def verify(self, sha256: str) -> bool:
        """True when the image is stored and its bytes still hash to its name."""
        blob = self.index.locate(sha256)
        try:
            return blob is not None and hashlib.sha256(blob.read()).hexdigest() == sha256
        except OSError:
            return False

    def put(self, data: bytes, sha256: str | None = None) -> tuple[str, bool]:
        """Store ``data``; returns (sha256, whether it was new)."""
        sha256 = sha256 or hashlib.sha256(data).hexdigest()
        with self._lock:
            if self.index.locate(sha256) is not None:
                return sha256, False
            if self._pack is None or self._size >= self.pack_bytes:
                self._start_pack()
            offset = self._size
            try:
                self._append(self._pack, data)
                self._size += len(data)
                self._append(self._index_file, blobs.index_record(sha256, offset, len(data)))
            except BaseException:
                # A short write (a full disk) leaves the pack's end unknown: never write
                # after it. What was written is unreachable, as after a crash.
                self._close_files()
                raise
            self.index.add(sha256, self._number, offset, len(data))
        return sha256, True

    def _append(self, f, data: bytes) -> None:
        f.write(data)
        f.flush()
        if self.fsync:
            os.fsync(f.fileno())

    def _start_pack(self) -> None:
        self._close_files()
        self.root.mkdir(parents=True, exist_ok=True)
        # Past every number on disk, this run's own included: "x" fails rather than reuse one.
        taken = [*blobs.pack_numbers(self.root), *self.index.numbers, self._number or 0]
        self._number = max(taken) + 1
        pack, index = (blobs.pack_path(self.root, self._number, suffix)
                       for suffix in (blobs.PACK_SUFFIX, blobs.INDEX_SUFFIX))
        self._pack, self._index_file = open(pack, "xb"), open(index, "xb")
        self._size = 0
        if self.fsync:  # the new names themselves must survive a crash
            fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _close_files(self) -> None:
        for f in (self._pack, self._index_file):
            if f is not None:
                f.close()
        self._pack = self._index_file = None

    def close(self) -> None:
        with self._lock:
            self._close_files()

    def __enter__(self) -> ContentStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
