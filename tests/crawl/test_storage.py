"""crawl.storage and crawl.blobs: the content store names each image by its content, writes it
once, in packs that only the run that made them appends to, and reads what a killed run left
as far as its last whole record."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from crawl import blobs
from crawl.blobs import Blob, StoreDamaged, StoreIndex, read_blobs
from crawl.storage import ContentStore
from tests.images import encode, painting


def images(count: int, seed: int = 0) -> list[bytes]:
    return [encode(painting((24 + i % 5, 16), seed=seed + i), "PNG") for i in range(count)]


def files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.iterdir())}


def test_store_names_images_by_content_and_writes_each_once(tmp_path):
    data = encode(painting((64, 48)), "JPEG", quality=90)
    with ContentStore(tmp_path / "images") as store:
        sha, new = store.put(data)
        assert new and sha == hashlib.sha256(data).hexdigest()
        assert store.put(data) == (sha, False)
        assert store.verify(sha) and store.get(sha) == data
        assert not store.has(hashlib.sha256(b"other").hexdigest())
        with pytest.raises(ValueError):
            store.has("../../etc/passwd")
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        "pack-000001.idx", "pack-000001.pack"]
    assert (tmp_path / "images" / "pack-000001.pack").read_bytes() == data
    assert read_blobs(tmp_path / "images") == {sha: data}


def test_a_later_run_finds_earlier_images_and_writes_new_ones_to_packs_of_its_own(tmp_path):
    root = tmp_path / "images"
    first, second = images(3), images(3, seed=10)
    with ContentStore(root) as store:
        for data in first:
            store.put(data)
    before = files(root)
    for path in root.iterdir():  # as DVC leaves files it linked into its read-only cache
        path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    with ContentStore(root) as store:
        assert [store.put(data)[1] for data in first] == [False] * 3
        assert [store.put(data)[1] for data in second] == [True] * 3
    after = files(root)
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == ["pack-000002.idx", "pack-000002.pack"]
    assert sorted(read_blobs(root).values()) == sorted(first + second)


def test_a_pack_past_pack_bytes_is_closed_and_the_next_image_starts_a_new_one(tmp_path):
    data = [bytes([i]) * 1000 for i in range(5)]
    with ContentStore(tmp_path, pack_bytes=2000) as store:
        for d in data:
            store.put(d)
    packs = sorted(tmp_path.glob("*.pack"))
    assert len(packs) == 3  # two images make a pack reach the budget; it closes after them
    assert sum(p.stat().st_size for p in packs) == sum(map(len, data))
    assert sorted(read_blobs(tmp_path).values()) == sorted(data)


def test_a_torn_index_record_and_bytes_no_record_points_to_are_never_read(tmp_path):
    data = images(4)
    with ContentStore(tmp_path) as store:
        for d in data[:3]:
            store.put(d)
    # What a run killed inside put leaves: the next image's bytes, half of its record.
    with open(tmp_path / "pack-000001.pack", "ab") as pack:
        pack.write(data[3])
    record = blobs.index_record(hashlib.sha256(data[3]).hexdigest(), 10**6, len(data[3]))
    with open(tmp_path / "pack-000001.idx", "ab") as index:
        index.write(record[:30])
    assert sorted(read_blobs(tmp_path).values()) == sorted(data[:3])
    with ContentStore(tmp_path) as store:
        assert store.put(data[3]) == (hashlib.sha256(data[3]).hexdigest(), True)
    assert (tmp_path / "pack-000002.pack").read_bytes() == data[3]
    assert sorted(read_blobs(tmp_path).values()) == sorted(data)


def test_a_whole_last_record_pointing_past_its_pack_is_a_torn_end(tmp_path):
    data = images(2)
    with ContentStore(tmp_path) as store:
        store.put(data[0])
    record = blobs.index_record(hashlib.sha256(data[1]).hexdigest(), len(data[0]), len(data[1]))
    with open(tmp_path / "pack-000001.idx", "ab") as index:  # the record, not the bytes
        index.write(record)
    assert list(read_blobs(tmp_path).values()) == [data[0]]


def test_a_damaged_record_before_good_ones_is_reported_not_skipped(tmp_path):
    with ContentStore(tmp_path) as store:
        for d in images(3):
            store.put(d)
    index = tmp_path / "pack-000001.idx"
    raw = bytearray(index.read_bytes())
    raw[5] ^= 0xFF
    index.write_bytes(bytes(raw))
    with pytest.raises(StoreDamaged, match="record 0 of 3 is damaged"):
        StoreIndex(tmp_path)


def test_a_missing_pack_that_an_index_points_into_is_reported(tmp_path):
    with ContentStore(tmp_path) as store:
        store.put(images(1)[0])
    (tmp_path / "pack-000001.pack").unlink()
    with pytest.raises(StoreDamaged, match="its pack pack-000001.pack is missing"):
        StoreIndex(tmp_path)


KILLED_WRITER = """
import sys, hashlib
from crawl.storage import ContentStore
store, run = ContentStore(sys.argv[1]), int(sys.argv[2])
for i in range(10):  # images of the first run: found, not written again
    store.put(hashlib.sha256(f"0-{i}".encode()).digest() * 2000)
for i in range(100000):
    store.put(hashlib.sha256(f"{run}-{i}".encode()).digest() * 2000)
    if i == 20:
        print("written", flush=True)
"""


def test_a_writer_killed_at_any_moment_leaves_a_store_whose_every_image_verifies(tmp_path):
    root = tmp_path / "images"
    for run in range(3):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(root), str(run)],
                                stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert proc.stdout.readline().strip() == "written"
        time.sleep(0.05 * run)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    index = StoreIndex(root)
    shas = index.shas()
    assert len(shas) >= 3 * 21
    store = ContentStore(root)
    assert all(store.verify(sha) for sha in shas)
    assert blobs.pack_numbers(root) == [1, 2, 3]  # a pack for each run
    assert len(index) == len(shas)  # and no image written twice


def test_an_image_of_an_older_loose_store_is_read_and_not_stored_again(tmp_path):
    data = images(2)
    sha = hashlib.sha256(data[0]).hexdigest()
    (tmp_path / sha[:2]).mkdir()
    (tmp_path / sha[:2] / sha).write_bytes(data[0])
    with ContentStore(tmp_path) as store:
        assert store.locate(sha) == Blob(str(tmp_path / sha[:2] / sha), 0, len(data[0]))
        assert store.put(data[0]) == (sha, False)
        assert store.put(data[1])[1]
    assert read_blobs(tmp_path) == {hashlib.sha256(d).hexdigest(): d for d in data}


def test_a_failed_write_leaves_earlier_images_whole_and_the_next_goes_to_a_new_pack(
        tmp_path, monkeypatch):
    data = images(3)
    store = ContentStore(tmp_path)
    store.put(data[0])
    real_fsync, calls = os.fsync, []

    def full_disk(fd):
        calls.append(fd)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("crawl.storage.os.fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        store.put(data[1])
    monkeypatch.setattr("crawl.storage.os.fsync", real_fsync)
    assert calls and store.put(data[2])[1]
    store.close()
    assert blobs.pack_numbers(tmp_path) == [1, 2]
    assert sorted(read_blobs(tmp_path).values()) == sorted([data[0], data[2]])


def test_threads_storing_at_once_leave_one_consistent_index(tmp_path):
    data = images(40)
    with ContentStore(tmp_path, fsync=False) as store:
        threads = [threading.Thread(target=lambda part=data[i::4]: [store.put(d) for d in part])
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(read_blobs(tmp_path).values()) == sorted(data)
    assert len(StoreIndex(tmp_path)) == 40


def test_an_index_finds_digests_ending_in_zero_bytes_and_keeps_finding_after_a_merge(
        tmp_path, monkeypatch):
    monkeypatch.setattr(StoreIndex, "MERGE_EVERY", 4)
    shas = [(bytes([i]) * 30 + b"\x00\x00").hex() for i in range(1, 11)]
    with open(tmp_path / "pack-000001.pack", "wb") as pack, \
            open(tmp_path / "pack-000001.idx", "wb") as idx:
        for i, sha in enumerate(shas[:5]):
            pack.write(bytes([i]) * 3)
            idx.write(blobs.index_record(sha, 3 * i, 3))
    index = StoreIndex(tmp_path)
    for i, sha in enumerate(shas[5:], start=5):  # crosses MERGE_EVERY: merged, then added
        index.add(sha, 2, 3 * i, 3)
    found = [index.locate(sha) for sha in shas]
    assert [(Path(b.path).name, b.offset) for b in found] == (
        [("pack-000001.pack", 3 * i) for i in range(5)]
        + [("pack-000002.pack", 3 * i) for i in range(5, 10)])
    assert index.shas() == sorted(shas)
    assert found[2].read() == b"\x02" * 3
    assert np.all(np.diff([int(s, 16) for s in index.shas()]) > 0)
