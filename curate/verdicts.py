"""Verdicts of curate's pair verifications kept on disk, so that a curate run killed after
hours resumes where it was, and a run after a crawl added images verifies only the pairs it
has not judged before.

    from curate.verdicts import VerdictCache, verdict_namespace
    with VerdictCache.open(folder, verdict_namespace(config["features"])) as verdicts:
        clusters = cluster(rows, verdicts=verdicts)     # curate.dedup asks it per pair

Why it is exact: a verdict is a pure function of the two files' bytes (through their
thumbnails and local features, themselves functions of the bytes), the verifier's arguments
and its code. A key is a 128-bit digest of the kind of verification, both files' sha256 in
the order the verifier sees them and its arguments; the namespace is a digest of the
verifier's source files, the OpenCV and numpy versions and the ``curate.features`` settings.
A cached verdict is therefore the one the verifier would return, bit for bit (values are kept
as float64), and the clusters are the same with, without or with a partly filled cache.

On disk (the folder is a DVC ``persist`` out, so it outlives a rerun of the stage):

- ``journal/NNNNNN.bin``: the verdicts of the run in progress, in chunks of
  ``CHUNK_VERDICTS`` as they come (each written atomically: a kill -9 loses at most one
  chunk's work);
- ``verdicts.bin``: at the end of a run, exactly the verdicts that run used, sorted by key,
  written atomically; then the journal goes. So the folder after a finished run depends only
  on that run's pairs, not on how it got there (killed and resumed, or in one go), and its
  size is that run's pairs, not every pair ever judged.

A namespace other than the folder's (new code, other feature settings) starts from nothing.
Memory: 32 bytes per verdict (a million records make about 8 million pairs: 256 MB).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np

from marcus.atomic import write_bytes

MAGIC = b"VRD1"
CHUNK_VERDICTS = 4096  # verdicts per journal chunk: at most this much work lost to a kill
FILE = "verdicts.bin"
JOURNAL = "journal"
# The modules whose code decides a verdict: thumbnails and trims (hashing), local features
# and their matching (local_features), the verifiers themselves (dedup).
VERIFIER_SOURCES = ("dedup.py", "local_features.py", "hashing.py")


def verdict_namespace(features: dict | None = None) -> str:
    """What makes a stored verdict valid: the verifier's code, the libraries whose numbers it
    depends on, and the local features' settings (``curate.features``)."""
    import cv2

    here = Path(__file__).parent
    code = hashlib.sha256()
    for name in VERIFIER_SOURCES:
        code.update((here / name).read_bytes())
    identity = {"code": code.hexdigest(), "opencv": cv2.__version__, "numpy": np.__version__,
                "features": features or {}}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def verdict_key(*parts) -> bytes:
    """The 16-byte key of one verification: its kind, both files' sha256 (in the order the
    verifier takes them) and its arguments, as ``repr`` gives them."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()


def _as_words(keys: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(keys), dtype="<u8").reshape(-1, 2) if keys else \
        np.zeros((0, 2), np.uint64)


class VerdictCache:
    """Stored verdicts (see the module docstring): two float64 per key."""

    def __init__(self, folder: Path, namespace: str):
        if len(namespace) != 32 or not namespace.isascii():
            raise ValueError(f"a verdict namespace is 32 ASCII characters, got {namespace!r}")
        self.folder, self.namespace = Path(folder), namespace
        keys, values = [np.zeros((0, 2), np.uint64)], [np.zeros((0, 2), np.float64)]
        chunks = sorted(p for p in (self.folder / JOURNAL).glob("*.bin") if p.stem.isdigit())
        for path in [self.folder / FILE, *chunks]:
            loaded = _read(path, namespace)
            if loaded is not None:
                keys.append(loaded[0])
                values.append(loaded[1])
        keys, values = np.concatenate(keys), np.concatenate(values)
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        self._keys, self._values = keys[order], values[order]
        self._used = np.zeros(len(self._keys), bool)
        self._new_keys: list[np.ndarray] = []
        self._new_values: list[np.ndarray] = []
        self._pending_keys: list[bytes] = []
        self._pending_values: list[tuple[float, float]] = []
        self._chunks = 1 + max((int(p.stem) for p in chunks), default=-1)
        self.hits = self.computed = 0

    @classmethod
    def open(cls, folder: str | Path, namespace: str) -> VerdictCache:
        return cls(Path(folder), namespace)

    def __enter__(self) -> VerdictCache:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.flush()  # what was judged so far stays for the rerun

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(found per key, its two values: NaN where not found)."""
        words = _as_words(keys)
        values = np.full((len(keys), 2), np.nan)
        found = np.zeros(len(keys), bool)
        if len(self._keys) and len(keys):
            # The first stored key with the same upper word, then the lower word must agree
            # too (two keys sharing an upper word: the second is never found, only judged
            # again, which costs time, not correctness).
            at = np.searchsorted(self._keys[:, 0], words[:, 0])
            inside = at < len(self._keys)
            at_in = np.minimum(at, len(self._keys) - 1)
            found = inside & (self._keys[at_in, 0] == words[:, 0]) \
                & (self._keys[at_in, 1] == words[:, 1])
            values[found] = self._values[at_in[found]]
            self._used[at_in[found]] = True
        self.hits += int(found.sum())
        return found, values

    def add(self, key: bytes, values: tuple[float, float]) -> None:
        """One newly judged verdict; written out with its chunk."""
        self._pending_keys.append(key)
        self._pending_values.append(values)
        self.computed += 1
        if len(self._pending_keys) >= CHUNK_VERDICTS:
            self.flush()

    def flush(self) -> None:
        """Write the verdicts added since the last flush as one journal chunk."""
        if not self._pending_keys:
            return
        keys = _as_words(self._pending_keys)
        values = np.array(self._pending_values, np.float64).reshape(-1, 2)
        self._pending_keys, self._pending_values = [], []
        (self.folder / JOURNAL).mkdir(parents=True, exist_ok=True)
        _write(self.folder / JOURNAL / f"{self._chunks:06d}.bin", self.namespace, keys, values)
        self._chunks += 1
        self._new_keys.append(keys)
        self._new_values.append(values)

    def close(self) -> None:
        """The run ended: keep exactly the verdicts it used, sorted, in one file."""
        self.flush()
        keys = np.concatenate([self._keys[self._used], *self._new_keys])
        values = np.concatenate([self._values[self._used], *self._new_values])
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        keys, values = keys[order], values[order]
        distinct = np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)] if len(keys) else \
            np.zeros(0, bool)
        self.folder.mkdir(parents=True, exist_ok=True)
        _write(self.folder / FILE, self.namespace, keys[distinct], values[distinct])
        shutil.rmtree(self.folder / JOURNAL, ignore_errors=True)


_HEADER = struct.Struct("<4s32sQ")  # magic, namespace (32 hex digits), verdicts


def _write(path: Path, namespace: str, keys: np.ndarray, values: np.ndarray) -> None:
    """Header, keys (16 bytes each), values (two float64 each): the same verdicts give the
    same bytes (a zip, as np.savez writes, would stamp the time)."""
    write_bytes(path, _HEADER.pack(MAGIC, namespace.encode(), len(keys))
                + keys.astype("<u8").tobytes() + values.astype("<f8").tobytes())


def _read(path: Path, namespace: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A stored file's keys and values, or None when it is of another namespace or is not
    whole (judged again, never trusted)."""
    try:
        data = path.read_bytes()
        magic, stored, count = _HEADER.unpack_from(data)
    except (OSError, struct.error):
        return None
    if magic != MAGIC or stored != namespace.encode() \
            or len(data) != _HEADER.size + 32 * count:
        return None
    keys = np.frombuffer(data, "<u8", 2 * count, _HEADER.size).reshape(count, 2)
    values = np.frombuffer(data, "<f8", 2 * count, _HEADER.size + 16 * count).reshape(count, 2)
    return keys.astype(np.uint64), values.astype(np.float64)
