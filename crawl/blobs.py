"""Reading a crawl's content store: where the original bytes of an image lie, by sha256.

A store is one folder (``out/images`` of a crawl). Its layout, written by
:class:`crawl.storage.ContentStore`::

    images/pack-000001.pack   original bytes of many images, one after another, as served
    images/pack-000001.idx    one 52-byte record per image of that pack: its sha256, offset
                              and size in the pack, and a CRC-32 of those 48 bytes
    images/ab/<sha256>        one file per image: stores written before packs (still read)

Packs keep a crawl of 300,000 paintings to about a thousand files, which DVC checks in well under
a second where it needs tens of seconds for loose files (benchmarks/results/dvc_scale.json).

A pack and its index are only ever appended to by the run that created them, and a record is
written after the bytes it points to are, so what a killed run leaves is read as far as its
last whole record: a torn record at the end of an index, or bytes in a pack that no record
points to, are never read. A bad record with good ones after it is damage, not a torn end, and
is reported (:class:`StoreDamaged`) instead of skipped.

Where an image lies depends on the order its response arrived in and on which run stored it,
so nothing downstream records it: the curated manifest names an image by ``source`` and
``sha256``, and its readers (``hash@SOURCE``, ``pack``, the Hugging Face export) look it up
here, getting a :class:`Blob`, a (path, offset, size) that can cross a process boundary::

    CrawlStores("data/crawl").locate("met", sha256).read()     # one image's original bytes

Two crawls of the same collection hold the same images, but not the same pack files; every
manifest, hash file and training shard made from them is the same.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marcus.errors import UserError

PACK_SUFFIX, INDEX_SUFFIX = ".pack", ".idx"
PACK_NAME = re.compile(r"pack-(\d{6,})\.(pack|idx)")
# One index record: sha256 (raw), offset and size in the pack, CRC-32 of the first 48 bytes.
INDEX_RECORD = np.dtype([("sha256", "S32"), ("offset", "<u8"), ("size", "<u8"),
                         ("crc32", "<u4")])
HEX = re.compile(r"[0-9a-f]{64}")


class StoreDamaged(UserError):
    """A store's index says something its packs contradict: a file was changed or cut."""


@dataclass(frozen=True)
class Blob:
    """Where one stored image's bytes lie: ``size`` bytes from ``offset`` of the file ``path``."""

    path: str
    offset: int
    size: int

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(self.size)
        if len(data) != self.size:
            raise OSError(f"{self.path}: {self.size} bytes expected at offset {self.offset}, "
                          f"{len(data)} found (the file was cut)")
        return data


def index_record(sha256: str, offset: int, size: int) -> bytes:
    """The 52 bytes that point at one image of a pack."""
    head = np.array([(bytes.fromhex(sha256), offset, size, 0)], INDEX_RECORD)
    head["crc32"] = zlib.crc32(head.tobytes()[:48])
    return head.tobytes()


def read_index(path: Path, pack_size: int) -> np.ndarray:
    """The whole records of one index whose blobs lie within the pack's ``pack_size`` bytes;
    a torn end (a partial record, a bad checksum or a blob past the pack's end, with nothing
    good after it) is left out. Anything bad before a good record raises StoreDamaged."""
    raw = Path(path).read_bytes()
    whole = len(raw) // INDEX_RECORD.itemsize
    records = np.frombuffer(raw, INDEX_RECORD, count=whole)
    view = memoryview(raw)
    size = INDEX_RECORD.itemsize
    good = np.array([zlib.crc32(view[i * size: i * size + 48]) == c
                     for i, c in enumerate(records["crc32"].tolist())], dtype=bool)
    good &= records["offset"] + records["size"] <= pack_size
    bad = np.flatnonzero(~good)
    if len(bad) and good[bad[0]:].any():
        raise damaged(Path(path), f"record {int(bad[0])} of {whole} is damaged and later ones "
                                  "are not: the store was changed after it was written")
    return records[: bad[0] if len(bad) else whole].copy()


def damaged(index: Path, why: str) -> StoreDamaged:
    """What to do about one damaged pack: drop it and fetch its images again."""
    pack = index.with_suffix(PACK_SUFFIX)
    source = index.parent.parent.name  # paths.crawl/SOURCE/images/pack-NNNNNN.idx
    return StoreDamaged(f"{index}: {why}. Remove {pack} and {index}, then re-run the crawl "
                        f"(`dvc repro crawl@{source}`): it fetches the images they held again.")


def pack_numbers(root: Path) -> list[int]:
    """The numbers of the packs and indexes under ``root``, sorted, each once."""
    if not root.is_dir():
        return []
    found = {int(m.group(1)) for p in root.iterdir() if (m := PACK_NAME.fullmatch(p.name))}
    return sorted(found)


def pack_path(root: Path, number: int, suffix: str) -> Path:
    return root / f"pack-{number:06d}{suffix}"


class StoreIndex:
    """Every image of one store by sha256: its packs' indexes read once, in sorted arrays (52
    bytes an image), plus the images added since (``add``), plus loose files looked up on disk.
    """

    MERGE_EVERY = 65_536  # images added before they are merged into the sorted arrays

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._numbers: list[int] = []
        parts, packs = [], []
        for number in pack_numbers(self.root):
            pack, index = (pack_path(self.root, number, s) for s in (PACK_SUFFIX, INDEX_SUFFIX))
            self._numbers.append(number)
            if not index.is_file():
                continue  # a run killed between creating its pack and its index
            if not pack.is_file():
                if index.stat().st_size >= INDEX_RECORD.itemsize:
                    raise damaged(index, f"its pack {pack.name} is missing or not a file")
                continue
            records = read_index(index, pack.stat().st_size)
            parts.append(records)
            packs.append(np.full(len(records), number, dtype=np.uint32))
        self._records = np.concatenate(parts) if parts else np.empty(0, INDEX_RECORD)
        self._packs = np.concatenate(packs) if packs else np.empty(0, np.uint32)
        self._sort()
        self._added: dict[bytes, tuple[int, int, int]] = {}

    def _sort(self) -> None:
        # Stable: of two records of one image (two runs that raced), the earlier pack wins.
        order = np.argsort(self._records["sha256"], kind="stable")
        self._records, self._packs = self._records[order], self._packs[order]

    @property
    def numbers(self) -> list[int]:
        """The pack numbers found when the index was read."""
        return list(self._numbers)

    def add(self, sha256: str, number: int, offset: int, size: int) -> None:
        """Note an image just written to pack ``number``."""
        self._added[bytes.fromhex(sha256)] = (number, offset, size)
        if len(self._added) >= self.MERGE_EVERY:
            keys = list(self._added)
            extra = np.array([(k, *self._added[k][1:], 0) for k in keys], INDEX_RECORD)
            self._records = np.concatenate([self._records, extra])
            self._packs = np.concatenate([self._packs, np.array(
                [self._added[k][0] for k in keys], np.uint32)])
            self._added.clear()
            self._sort()

    def locate(self, sha256: str) -> Blob | None:
        """Where the image's bytes lie, or None when the store does not hold it."""
        if not HEX.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        key = bytes.fromhex(sha256)
        if key in self._added:
            number, offset, size = self._added[key]
            return Blob(str(pack_path(self.root, number, PACK_SUFFIX)), offset, size)
        i = int(np.searchsorted(self._records["sha256"], key))
        # Raw bytes: numpy drops an S32 value's trailing zero bytes when it hands one out.
        if i < len(self._records) and self._records["sha256"][i:i + 1].tobytes() == key:
            record = self._records[i]
            return Blob(str(pack_path(self.root, int(self._packs[i]), PACK_SUFFIX)),
                        int(record["offset"]), int(record["size"]))
        loose = self.root / sha256[:2] / sha256
        try:
            return Blob(str(loose), 0, loose.stat().st_size)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def __len__(self) -> int:
        """Images in packs (loose files are not counted: list them to count them)."""
        return len(self._records) + len(self._added)

    def shas(self) -> list[str]:
        """The sha256 of every image in packs and of every loose file, sorted."""
        raw = self._records["sha256"].tobytes()
        packed = {raw[i: i + 32].hex() for i in range(0, len(raw), 32)}
        packed |= {k.hex() for k in self._added}
        if self.root.is_dir():
            packed |= {p.name for p in self.root.glob("??/*") if HEX.fullmatch(p.name)}
        return sorted(packed)


class CrawlStores:
    """The content stores of every source under a crawl root (``paths.crawl``), each index read
    when first asked: what the readers of the curated manifest use."""

    def __init__(self, crawl_root: str | os.PathLike):
        self.crawl_root = Path(crawl_root)
        self._stores: dict[str, StoreIndex] = {}

    def locate(self, source: str, sha256: str) -> Blob | None:
        if source not in self._stores:
            self._stores[source] = StoreIndex(self.crawl_root / source / "images")
        return self._stores[source].locate(sha256)


def read_blobs(root: str | os.PathLike) -> dict[str, bytes]:
    """Every image of a store, by sha256 (for tests and small stores: it reads them all)."""
    index = StoreIndex(root)
    return {sha: index.locate(sha).read() for sha in index.shas()}
