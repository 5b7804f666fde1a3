"""Content-addressed storage of original image bytes: ``images/ab/<sha256>``.

Bytes are stored exactly as served (no re-encode); the format lives in the records. A blob is
written to a temporary file, fsynced and renamed into place, so a crash leaves either the whole
blob or nothing under its name, and a name always matches its content. Writing a blob that is
already there is a no-op: the same painting served twice is stored once.

Loose files in 256 prefix folders suit DVC at this scale (tens of thousands per source), and
keep resume trivial (a blob is there or it is not); benchmarks/dvc_store.py measures what DVC
pays for a store of 20,000.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class ContentStore:
    def __init__(self, root: str | os.PathLike, fsync: bool = True):
        self.root = Path(root)
        self.fsync = fsync

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes, sha256: str | None = None) -> tuple[str, bool]:
        """Store ``data``; returns (sha256, whether it was new)."""
        sha256 = sha256 or hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.is_file() and target.stat().st_size == len(data):
            return sha256, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{sha256[:12]}.tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha256, True

    def remove_partial_writes(self) -> int:
        """Delete temp files left by a killed writer; call before writing, with no other writer."""
        removed = 0
        for tmp in self.root.glob("*/.*.tmp-*"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def verify(self, sha256: str) -> bool:
        """True when the blob exists and its bytes still hash to its name."""
        path = self.path(sha256)
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256
