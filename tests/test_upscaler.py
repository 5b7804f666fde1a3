"""The upscaler, its tiling and its training loop: real networks, real files, real steps.

Networks are tiny (8 channels) with randomised weights, so the detail branch is far from zero
and a tiling or projection mistake shows; training runs the `tiny` preset on a few synthetic
paintings held in memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from marcus.errors import UserError
from train import checkpoints, train_upscaler
from train.tiling import DiskImage, upscale, upscale_chain
from train.upscaler import (
    CompactSR,
    PatchDiscriminator,
    box_down,
    load_upscaler,
    nearest_up,
    project,
    receptive_radius,
)


def random_model(factor: int, body_convs: int = 2, seed: int = 0) -> CompactSR:
    torch.manual_seed(seed)
    model = CompactSR(factor=factor, channels=8, body_convs=body_convs).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model


def random_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_shapes_for_every_factor_and_odd_sizes(factor):
    model = random_model(factor)
    for h, w in [(13, 7), (1, 1), (5, 16)]:
        out = model(to_tensor(random_image(h, w)))
        assert out.shape == (1, 3, h * factor, w * factor)
        assert upscale(model, random_image(h, w), tile_px=64).shape == (h * factor, w * factor, 3)
    logits = PatchDiscriminator(channels=4)(torch.rand(2, 3, 32, 48))
    assert logits.shape == (2, 1, 8, 12)


def test_a_fresh_model_starts_near_bilinear():
    model = CompactSR(factor=4, channels=8, body_convs=2)
    x = to_tensor(random_image(12, 10))
    bilinear = torch.nn.functional.interpolate(x, scale_factor=4, mode="bilinear")
    assert (model(x) - bilinear).abs().mean() < 0.05


def test_receptive_radius_is_exact():
    """Changing one input pixel changes output blocks exactly `radius` pixels away, never
    further: the radius is neither an underestimate (tiles would differ) nor an overestimate."""
    model = random_model(4, body_convs=3)
    radius = receptive_radius(model)
    assert radius == 3 + 2
    x = to_tensor(random_image(31, 31))
    y = x.clone()
    y[0, :, 15, 15] += 0.5
    with torch.no_grad():
        changed = (box_down((model(x) - model(y)).abs(), 4).amax(dim=1)[0] > 0).nonzero()
    reach = (changed - 15).abs().max().item()
    assert reach == radius


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("with_projection", [False, True])
def test_tiled_equals_untiled(factor, with_projection, tmp_path):
    model = random_model(factor)
    image = random_image(53, 70)
    radius = receptive_radius(model)
    whole = upscale(model, image, tile_px=200, project=with_projection)
    tiled = upscale(model, image, tile_px=2 * radius + 3, project=with_projection)
    on_disk = upscale(model, image, tile_px=2 * radius + 5, project=with_projection,
                      out=tmp_path / "out.f32")
    assert isinstance(on_disk, DiskImage)
    assert np.abs(whole - tiled).max() < 1e-4
    assert np.abs(whole - np.asarray(on_disk)).max() < 1e-4
    # The tiles really are different computations: too little overlap breaks equality.
    with torch.no_grad():
        direct = model(to_tensor(image))[0].permute(1, 2, 0).numpy()
    if not with_projection:
        assert np.abs(whole - direct).max() < 1e-4


def test_too_little_overlap_is_refused_and_would_be_wrong():
    model = random_model(4)
    image = random_image(40, 40)
    radius = receptive_radius(model)
    with pytest.raises(ValueError, match="receptive radius"):
        upscale(model, image, tile_px=16, overlap_px=radius - 1)
    # What the check prevents: bypass it and the seams show.
    import train.tiling as tiling
    original = tiling.validate
    tiling.validate = lambda *args: None
    try:
        seamy = upscale(model, image, tile_px=16, overlap_px=radius - 2)
    finally:
        tiling.validate = original
    assert np.abs(seamy - upscale(model, image, tile_px=100)).max() > 1e-3


def test_bad_inputs_have_clear_errors(tmp_path):
    model = random_model(4)
    radius = receptive_radius(model)
    with pytest.raises(ValueError, match="leaves no core"):
        upscale(model, random_image(20, 20), tile_px=2 * radius)
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        upscale(model, np.zeros((20, 20), np.float32))
    with pytest.raises(ValueError, match="factor must be one of"):
        CompactSR(factor=3)
    with pytest.raises(ValueError, match="out has shape"):
        upscale(model, random_image(5, 5), out=np.zeros((10, 10, 3), np.float32))
    with pytest.raises(RuntimeError, match="on disk"):
        DiskImage(tmp_path / "huge.f32", 10**7, 10**7)  # 1.2 PB


def test_projection_is_exact_clamped_and_nearest():
    torch.manual_seed(1)
    x = torch.rand(2, 3, 9, 11)
    x[0, 0, :3] = 0.0  # blocks whose target is the edge of [0, 1]
    x[0, 1, :3] = 1.0
    y = torch.randn(2, 3, 36, 44) * 0.5 + 0.5  # far outside [0, 1] in places
    p = project(y, x, 4)
    assert (box_down(p, 4) - x).abs().max() < 1e-6
    assert p.min() > -1e-6 and p.max() < 1 + 1e-6
    unclamped = project(y, x, 4, clamp=False)
    assert (box_down(unclamped, 4) - x).abs().max() < 1e-6
    assert (unclamped - y - nearest_up(x - box_down(y, 4), 4)).abs().max() < 1e-6
    # Idempotent, and it moves an already consistent image by nothing.
    assert (project(p, x, 4) - p).abs().max() < 1e-6
    # Nearest: any other feasible point (here the flat upscale of x) is no closer to y.
    assert (p - y).square().sum() <= (nearest_up(x, 4) - y).square().sum()


def test_chain_of_two_passes_streams_through_disk_and_composes(tmp_path):
    model = random_model(4)
    image = random_image(9, 14)
    radius = receptive_radius(model)
    out = upscale_chain([model, model], image, tile_px=2 * radius + 6, workdir=tmp_path)
    assert out.shape == (144, 224, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pass1.f32"]  # pass0 deleted
    once = upscale(model, image, tile_px=100, project=True)
    twice = upscale(model, once, tile_px=100, project=True)
    result = np.asarray(out)
    assert np.abs(result - twice).max() < 1e-4
    # Projections compose: the x16 print box-downscales to the painting itself.
    assert (box_down(to_tensor(result), 16) - to_tensor(image)).abs().max() < 1e-5


# ----------------------------------------------------------------------------------------------
# Training


def synthetic_source(split: str):
    """Six paintings of stripes and gradients, the first too small to crop (it is skipped)."""
    rng = np.random.default_rng(0 if split == "train" else 1)
    yield f"{split}-small", np.zeros((20, 20, 3), np.uint8)
    for i in range(5):
        yy, xx = np.mgrid[0:70 + i, 0:90] / 40.0
        base = rng.uniform(0, 1, size=3)
        image = np.stack([0.5 + 0.5 * np.sin(7 * xx * base[c] + 3 * yy) for c in range(3)], -1)
        yield f"{split}-{i}", (image * 255).astype(np.uint8)


def tiny_params(root) -> dict:
    preset = dict(factor=4, channels=8, body_convs=2, d_channels=8, hr_crop_px=32,
                  batch_size=4, steps=8, steps_per_tick=2, snapshot_ticks=1, lr=5e-4,
                  d_lr=2e-4, l1_weight=1.0, consistency_weight=1.0, adversarial_weight=0.01,
                  gan_start_step=3, crops_per_image=2, bank_refresh_steps=3, eval_images=2,
                  eval_crop_px=48)
    return {"pack": str(root / "pack"), "out": str(root / "run"), "model": str(root / "model"),
            "live": str(root / "live"), "seed": 5, "device": "cpu", "threads": 1,
            "preset": "tiny", "presets": {"tiny": preset}}


def test_crop_bank_is_a_function_of_seed_and_number():
    a = train_upscaler.crop_bank(synthetic_source, "train", 32, 3, seed=1, bank_index=0)
    b = train_upscaler.crop_bank(synthetic_source, "train", 32, 3, seed=1, bank_index=0)
    c = train_upscaler.crop_bank(synthetic_source, "train", 32, 3, seed=1, bank_index=1)
    assert a.shape == (15, 32, 32, 3) and np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(UserError, match="lower hr_crop_px"):
        train_upscaler.crop_bank(synthetic_source, "train", 512, 3, seed=1, bank_index=0)


def test_resume_equals_uninterrupted_training(tmp_path):
    straight = tiny_params(tmp_path / "a")
    result = train_upscaler.train(straight, source=synthetic_source)
    assert result["steps"] == 8 and result["val_images"] == 2
    final = torch.load(tmp_path / "a/run/last.pt", weights_only=True)

    interrupted = tiny_params(tmp_path / "b")
    train_upscaler.train(interrupted, steps=5, source=synthetic_source)  # mid-bank, mid-GAN
    assert torch.load(tmp_path / "b/run/last.pt", weights_only=True)["step"] == 5
    train_upscaler.train(interrupted, source=synthetic_source)
    resumed = torch.load(tmp_path / "b/run/last.pt", weights_only=True)
    for part in ("G", "D"):
        for name, tensor in final[part].items():
            assert torch.equal(tensor, resumed[part][name]), f"{part}.{name} differs"
    assert resumed["step"] == 8

    # The saved model loads and upscales; training moved the weights away from the start.
    model = load_upscaler(tmp_path / "b/model")
    checkpoints.seed_everything(5)
    initial = CompactSR(**model.init_kwargs)
    assert not torch.equal(initial.features[0].weight, model.features[0].weight)
    assert upscale(model, random_image(8, 8), tile_px=64).shape == (32, 32, 3)


def test_changed_params_do_not_resume(tmp_path, capsys):
    params = tiny_params(tmp_path)
    train_upscaler.train(params, steps=2, source=synthetic_source)
    params["presets"]["tiny"]["lr"] = 1e-3
    result = train_upscaler.train(params, steps=2, source=synthetic_source)
    assert "ignoring checkpoint" in capsys.readouterr().out
    assert result["steps"] == 2


def test_bad_config_is_refused():
    params = tiny_params(Path("/nonexistent"))
    with pytest.raises(UserError, match="multiple of factor"):
        train_upscaler.resolve_config(params, overrides={"hr_crop_px": 30})
    with pytest.raises(UserError, match="unknown preset"):
        train_upscaler.resolve_config(params, "nope")


KILLED_RUN = """
import sys
from tests.test_upscaler import synthetic_source, tiny_params
from pathlib import Path
from train import train_upscaler
train_upscaler.train(tiny_params(Path(sys.argv[1])), steps=10**6, source=synthetic_source)
"""


def test_kill_9_and_rerun_resumes_exactly(tmp_path):
    """SIGKILL at an arbitrary moment (mid-step, maybe mid-save), then a rerun: the weights
    equal an uninterrupted run of the same length."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path / "b")], cwd=root,
                            env=dict(os.environ, PYTHONPATH=str(root)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = tmp_path / "b/run/last.pt"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if checkpoint.is_file() and torch.load(checkpoint, weights_only=True)["step"] >= 8:
                break
            time.sleep(0.05)
        time.sleep(0.13)  # land somewhere inside a later step or save
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    killed_at = torch.load(checkpoint, weights_only=True)["step"]
    assert killed_at >= 8
    target = killed_at + 5

    interrupted = tiny_params(tmp_path / "b")
    train_upscaler.train(interrupted, steps=target, source=synthetic_source)
    straight = tiny_params(tmp_path / "a")
    train_upscaler.train(straight, steps=target, source=synthetic_source)
    a = torch.load(tmp_path / "a/run/last.pt", weights_only=True)
    b = torch.load(checkpoint, weights_only=True)
    assert a["step"] == b["step"] == target
    for part in ("G", "D"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), f"{part}.{name} differs"


DDP_RUN = """
import json, sys
from pathlib import Path
from tests.test_upscaler import synthetic_source, tiny_params
from train import train_upscaler
result = train_upscaler.train(tiny_params(Path(sys.argv[1])), source=synthetic_source)
print(json.dumps(result["rank_weight_digests"]))
"""


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    """torchrun's environment switches data parallelism on: each rank draws its own crops,
    gradients are averaged, and both ranks end with the same weights."""
    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_RUN)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", str(script), str(tmp_path)], cwd=root,
                          env=dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    digests = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    assert digests and len(digests[0]) == 2 and digests[0][0] == digests[0][1]
    single = train_upscaler.train(tiny_params(tmp_path / "one"), source=synthetic_source)
    assert single["rank_weight_digests"] != digests[0][:1]  # two ranks saw other batches
