"""Print rendering: sizes, dpi and pixels of the files it writes, the resize, the CLI with a
real generator checkpoint, and bounded memory measured in a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.images import noise, painting_array
from train.render import (
    choose_factors,
    main,
    print_size,
    render,
    resized_bands,
    write_png,
    write_tiff,
)
from train.tiling import upscale_chain
from train.upscaler import CompactSR

REPO = Path(__file__).resolve().parents[2]


def random_model(factor: int, seed: int = 0) -> CompactSR:
    torch.manual_seed(seed)
    model = CompactSR(factor=factor, channels=8, body_convs=2).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


def pillow_lanczos(image: np.ndarray, height: int, width: int) -> np.ndarray:
    channels = [Image.fromarray(image[..., c], mode="F").resize((width, height), Image.LANCZOS)
                for c in range(3)]
    return np.clip(np.stack([np.asarray(c) for c in channels], -1), 0, 1) * 255


def test_print_size_and_factor_choice():
    assert print_size(768, 768, 20, 300) == (6000, 6000)
    assert print_size(600, 800, 20, 300) == (4500, 6000)
    assert print_size(800, 600, 10, 72) == (720, 540)
    with pytest.raises(ValueError, match="positive"):
        print_size(10, 10, 0, 300)
    assert choose_factors([4], 32, 6000) == [4, 4, 4, 4]       # 8192 px, then shrink
    assert choose_factors([4, 8], 1024, 6000) == [8]
    assert choose_factors([4, 8], 256, 6000) == [8, 4]
    assert choose_factors([4], 8000, 6000) == []


@pytest.mark.parametrize("shape", [(300, 200, 123, 77), (40, 50, 113, 141), (9, 9, 9, 9)])
def test_band_resize_matches_pillow_lanczos(shape):
    in_h, in_w, out_h, out_w = shape
    image = noise((in_h, in_w, 3), seed=0, dtype=np.float32)
    ours = np.concatenate(list(resized_bands(image, out_h, out_w, band_rows=7)))
    assert ours.shape == (out_h, out_w, 3) and ours.dtype == np.uint8
    assert np.abs(ours.astype(np.float64) - pillow_lanczos(image, out_h, out_w)).max() <= 0.51


@pytest.mark.parametrize("height, width", [(1, 1), (1, 7), (13, 5), (64, 33)])
def test_writers_round_trip_through_pillow(tmp_path, height, width):
    pixels = noise((height, width, 3), seed=height)
    bands = lambda: (pixels[i:i + 5] for i in range(0, height, 5))  # noqa: E731
    write_png(tmp_path / "a.png", bands(), height, width, dpi=300)
    write_tiff(tmp_path / "a.tif", bands(), height, width, dpi=72.5)
    with Image.open(tmp_path / "a.png") as png, Image.open(tmp_path / "a.tif") as tif:
        assert np.array_equal(np.asarray(png), pixels)
        assert np.array_equal(np.asarray(tif), pixels)
        assert png.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert tif.info["dpi"] == (72.5, 72.5)
    with pytest.raises(RuntimeError, match="expected"):
        write_png(tmp_path / "short.png", iter([pixels[:1]]), height + 1, width, dpi=300)
    assert not (tmp_path / "short.png").exists()  # atomic: no half file


def test_render_writes_prints_of_the_exact_size(tmp_path):
    model = random_model(4)
    painting = painting_array((24, 18))
    paths = render([painting, painting], model, factors=[4, 4], tile_px=20, inches=2.0,
                   dpi=150, out_dir=tmp_path, names=["a", "b"])
    tif, = render([painting], [model], factors=[4, 4], tile_px=20, inches=2.0, dpi=150,
                  out_dir=tmp_path, fmt="tiff", names=["a"])
    assert [p.name for p in paths] == ["a.png", "b.png"] and tif.name == "a.tif"
    with Image.open(paths[0]) as png, Image.open(tif) as tiff:
        assert png.size == (225, 300) and tiff.size == (225, 300)   # long side 2 in x 150 dpi
        assert tiff.info["dpi"] == (150, 150)
        printed = np.asarray(png)
        assert np.array_equal(printed, np.asarray(tiff))
    # The same steps by hand: chain (projected), then Pillow's Lanczos to 300 x 225.
    big = np.asarray(upscale_chain([model, model], painting, tile_px=40, workdir=tmp_path / "w"))
    expected = pillow_lanczos(big, 300, 225)
    assert np.abs(printed.astype(np.float64) - expected).max() <= 0.51
    assert not list(tmp_path.glob(".*tmp-*"))


def test_render_takes_no_more_passes_than_the_upscaler_card_picked(tmp_path):
    from marcus.model_files import write_model_folder
    from train.upscaler import UPSCALER, load_upscaler

    model, painting = random_model(4), painting_array((16, 12))
    for passes in (None, 1, 0):
        write_model_folder(tmp_path / f"model{passes}", {"metrics": {"chain": {
            "pick": "test", "network_passes": passes}}}, UPSCALER, model, model.init_kwargs)

    def printed(models, factors=None):
        path, = render([painting], models, factors=factors, tile_px=20, inches=1.0, dpi=256,
                       out_dir=tmp_path / "prints", names=["print"])       # 256 px: x4 x4
        return np.asarray(Image.open(path))

    cards = {passes: load_upscaler(tmp_path / f"model{passes}") for passes in (None, 1, 0)}
    assert cards[1].card["metrics"]["chain"]["network_passes"] == 1
    assert np.array_equal(printed(cards[None]), printed(model, [4, 4]))
    one_pass = printed(cards[1])
    assert np.array_equal(one_pass, printed(model, [4]))                 # then Lanczos x4
    assert not np.array_equal(one_pass, printed(model, [4, 4]))
    assert np.array_equal(printed(cards[0]), printed(model, []))         # Lanczos only
    assert np.array_equal(printed(cards[1], [4, 4]), printed(model, [4, 4]))  # asked for


def test_render_refuses_bad_requests(tmp_path):
    model = random_model(4)
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="no upscaler for factor 8"):
        render([image], model, factors=[8], out_dir=tmp_path)
    with pytest.raises(ValueError, match="png or tiff"):
        render([image], model, fmt="jpeg", out_dir=tmp_path)
    with pytest.raises(ValueError, match="uint8 or float"):
        render([image.astype(np.int32)], model, inches=1, dpi=32, out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        render([np.zeros((8, 8), np.uint8)], model, out_dir=tmp_path)


def test_cli_renders_generator_seeds(tmp_path, capsys):
    from train.networks import Generator

    torch.manual_seed(0)
    G = Generator(z_dim=16, w_dim=16, img_resolution=16, mapping_layers=1, channel_base=128,
                  channel_max=16)
    torch.save({"G_ema": G.state_dict(), "G_kwargs": G.init_kwargs}, tmp_path / "g.pt")
    model = random_model(4)
    torch.save({"model": model.state_dict(), "model_kwargs": model.init_kwargs},
               tmp_path / "upscaler.pt")
    args = ["--generator", str(tmp_path / "g.pt"), "--upscaler", str(tmp_path), "--seeds",
            "1-2", "--truncation", "0.7", "--inches", "1", "--dpi", "200", "--tile-px", "24",
            "--out", str(tmp_path / "prints")]
    assert main(args) == 0
    first = np.asarray(Image.open(tmp_path / "prints/seed0001.png"))
    assert first.shape == (200, 200, 3) and first.std() > 0
    assert not np.array_equal(first, np.asarray(Image.open(tmp_path / "prints/seed0002.png")))
    assert main(args + ["--out", str(tmp_path / "again")]) == 0   # seeds are reproducible
    assert np.array_equal(first, np.asarray(Image.open(tmp_path / "again/seed0001.png")))
    assert capsys.readouterr().out.splitlines()[-1].startswith("peak memory on cpu: ")
    assert main(args[:2] + ["--upscaler", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("render: no upscaler")
    if not torch.cuda.is_available():
        assert main(args + ["--device", "cuda"]) == 2
        assert "torch sees no CUDA device" in capsys.readouterr().err


# VmHWM (peak RSS of this process image) rather than ru_maxrss: Linux carries ru_maxrss over
# fork and exec, so a child of a large pytest process would report pytest's size.
PEAK_RSS_SCRIPT = textwrap.dedent("""
    import json, sys, tempfile
    import numpy as np, torch
    from tests.images import noise
    from train.render import render
    from train.upscaler import CompactSR
    def peak_kib():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = CompactSR(factor=8, channels=16, body_convs=4).eval()
    tile_px = int(sys.argv[1])
    with tempfile.TemporaryDirectory() as out:
        render([np.zeros((64, 64, 3), np.uint8)], model, factors=[8], tile_px=tile_px,
               inches=1, dpi=512, out_dir=out)                   # warm-up: imports, kernels
        base = peak_kib()
        painting = noise((256, 256, 3), dtype=np.float32)
        render([painting], model, factors=[8], tile_px=tile_px, inches=2048 / 300, dpi=300,
               out_dir=out, workdir=out)
        peak = peak_kib()
    print(json.dumps({"extra_mib": (peak - base) / 1024}))
""")


def peak_extra_mib(tile_px: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, str(tile_px)], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["extra_mib"]


@pytest.mark.e2e  # two renders in other processes
def test_render_memory_is_bounded_by_the_tile():
    """A 2048 px print from 256 px in 40 px tiles needs less memory than its float image
    alone (48 MiB), which rendering in one tile must hold several times over."""
    output_mib = 2048 * 2048 * 3 * 4 / 2**20
    tiled = peak_extra_mib(40)
    untiled = peak_extra_mib(256 + 2 * 6 + 2)
    assert untiled > output_mib, untiled
    assert tiled < output_mib * 0.75, (tiled, untiled)  # measured: 24-31 MiB (untiled 99-214)
