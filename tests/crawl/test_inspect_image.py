"""crawl.inspect_image: what is wrong with a body that should be an image (truncated, corrupt, not
an image, an HTML page, a decompression bomb), and the decode gate that bounds the bitmaps
decoded at once (crawl.max_rss_mb): never over its budget, a bigger decode alone and not
starved, each decode charged for what it decodes.
"""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
from PIL import Image

from crawl import reasons
from crawl.inspect_image import DecodeGate, decode_budget, decoded_bytes, inspect_image
from tests.images import encode, painting

JPEG = encode(painting((64, 48)), "JPEG", quality=90)


def _png_bomb() -> bytes:
    return encode(Image.new("1", (20_000, 20_000)), "PNG")  # 1-bit: a small file, 400 MP


@pytest.mark.parametrize("body, content_type, reason", [
    (JPEG, "image/jpeg", None),
    (JPEG[: len(JPEG) // 2], "image/jpeg", reasons.TRUNCATED),
    (b"\xff\xd8" + bytes(range(256)) * 20, "image/jpeg", reasons.CORRUPT),
    (b"Just some text, not a picture.\n" * 10, "image/jpeg", reasons.NOT_IMAGE),
    (json.dumps({"error": "nope"}).encode(), "application/json", reasons.NOT_IMAGE),
    (b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "text/html",
     reasons.HTML_PAGE),
    (b"<html><body>oops</body></html>", "image/jpeg", reasons.HTML_PAGE),
    (_png_bomb(), "image/png", reasons.DECOMPRESSION_BOMB),
    (b"", "image/jpeg", reasons.NOT_IMAGE),
])
def test_inspect_image_names_the_problem(body, content_type, reason):
    found = inspect_image(body, content_type, max_pixels=150_000_000)
    assert found.reason == reason, found.error
    if reason is None:
        assert (found.format, found.width, found.height) == ("JPEG", 64, 48)


# -- the decode gate, on its own ------------------------------------------------------------

def test_the_decode_gate_never_admits_more_estimated_bytes_than_its_budget():
    gate = DecodeGate(budget=100)
    seen, errors = [], []

    def worker(seed):
        rng = random.Random(seed)
        for _ in range(40):
            cost = rng.randint(1, 60)
            with gate.admit(cost):
                running, in_flight = gate.in_flight
                seen.append((running, in_flight))
                if in_flight > gate.budget:
                    errors.append(in_flight)
                time.sleep(rng.uniform(0, 0.002))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(seen) == 8 * 40
    assert gate.peak_in_flight <= 100
    assert max(running for running, _ in seen) > 1, "small decodes still run side by side"
    assert gate.in_flight == (0, 0)


def test_a_decode_bigger_than_the_budget_runs_alone_and_is_not_starved():
    gate = DecodeGate(budget=100)
    stop = threading.Event()
    alone = []

    def small(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            with gate.admit(rng.randint(1, 40)):
                time.sleep(0.001)

    smalls = [threading.Thread(target=small, args=(i,)) for i in range(4)]
    for t in smalls:
        t.start()
    time.sleep(0.05)
    started = time.monotonic()
    with gate.admit(250):  # over the whole budget: admitted once nothing else runs
        alone.append(gate.in_flight)
        time.sleep(0.02)
    waited = time.monotonic() - started
    stop.set()
    for t in smalls:
        t.join(timeout=10)
    assert alone == [(1, 250)]
    assert waited < 5, "a stream of small decodes must not starve a big one"
    assert gate.in_flight == (0, 0)


def test_inspect_image_charges_the_gate_for_the_bitmap_it_decodes():
    gate = DecodeGate(budget=10**9)
    jpeg = encode(painting((800, 640)), "JPEG")
    assert inspect_image(jpeg, "image/jpeg", gate=gate).reason is None
    assert gate.peak_in_flight == 100 * 80 * 4, "a 1/8 JPEG draft costs 1/64 of the full size"
    gate = DecodeGate(budget=0)  # nothing fits: decodes run one at a time, never blocked
    png = encode(painting((300, 200)).convert("RGBA"), "PNG")
    assert inspect_image(png, "image/png", gate=gate).reason is None
    assert gate.peak_in_flight == decoded_bytes(300, 200, "RGBA") == 300 * 200 * 4


def test_the_decode_budget_is_what_the_rss_target_leaves_after_the_process_and_bodies():
    mib = 2**20
    assert decode_budget(0, 16, 50 * mib) is None  # 0: no gate
    assert decode_budget(1536, 1, 50 * mib) == (1536 - 256 - 50) * mib
    assert decode_budget(1536, 16, 50 * mib) == (1536 - 256 - 800) * mib
    assert decode_budget(300, 16, 50 * mib) == 0  # bodies alone fill it: one decode at a time
