"""The upscaler's training loop (train/train_upscaler.py): crop banks, exact resume in process and
after kill -9, changed params that do not resume, bad configs, two gloo ranks with identical
weights. Training runs the `tiny` preset on a few synthetic paintings held in memory
(tests/train/helpers.py).
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
from tests.images import noise, painting_array
from tests.train.helpers import synthetic_source, tiny_params
from train import checkpoints, train_upscaler
from train.tiling import upscale
from train.upscaler import CompactSR, load_upscaler


def test_crop_bank_is_a_function_of_seed_and_number():
    a = train_upscaler.crop_bank(synthetic_source, "train", 32, 3, seed=1, bank_index=0)
    b = train_upscaler.crop_bank(synthetic_source, "train", 32, 3, seed=1, bank_index=0)
    c = train_upscaler.crop_bank(synthetic_source, "train", 32, 3, seed=1, bank_index=1)
    assert a.shape == (15, 32, 32, 3) and np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(UserError, match="lower hr_crop_px"):
        train_upscaler.crop_bank(synthetic_source, "train", 512, 3, seed=1, bank_index=0)


def test_learning_rates_fall_along_a_cosine_to_zero_and_stay_there():
    scale = train_upscaler.lr_scale
    assert scale(0, 100) == 1.0 and scale(50, 100) == pytest.approx(0.5)
    assert scale(100, 100) == pytest.approx(0.0) and scale(150, 100) == pytest.approx(0.0)
    assert [scale(s, 0) for s in (0, 10**6)] == [1.0, 1.0]                # 0: no decay
    assert all(scale(s, 100) >= scale(s + 1, 100) for s in range(120))


def test_resume_equals_uninterrupted_training(tmp_path):
    straight = tiny_params(tmp_path / "a")
    result = train_upscaler.train(*straight, source=synthetic_source)
    assert result["steps"] == 8 and result["val_images"] == 2
    final = torch.load(tmp_path / "a/run/last.pt", weights_only=True)

    interrupted = tiny_params(tmp_path / "b")
    train_upscaler.train(*interrupted, steps=5, source=synthetic_source)  # mid-bank, mid-GAN
    assert torch.load(tmp_path / "b/run/last.pt", weights_only=True)["step"] == 5
    train_upscaler.train(*interrupted, source=synthetic_source)
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
    assert upscale(model, noise((8, 8, 3), dtype=np.float32), tile_px=64).shape == (32, 32, 3)


def test_changed_params_do_not_resume(tmp_path, capsys):
    params, paths = tiny_params(tmp_path)
    train_upscaler.train(params, paths, steps=2, source=synthetic_source)
    params["presets"]["tiny"]["lr"] = 1e-3
    result = train_upscaler.train(params, paths, steps=2, source=synthetic_source)
    assert "ignoring checkpoint" in capsys.readouterr().out
    assert result["steps"] == 2


def test_bad_config_is_refused():
    params, _paths = tiny_params(Path("/nonexistent"))
    with pytest.raises(UserError, match="multiple of factor"):
        train_upscaler.resolve_config(params, overrides={"hr_crop_px": 30})
    with pytest.raises(UserError, match="unknown preset"):
        train_upscaler.resolve_config(params, "nope")


KILLED_RUN = """
import sys
from tests.train.helpers import synthetic_source, tiny_params
from pathlib import Path
from train import train_upscaler
train_upscaler.train(*tiny_params(Path(sys.argv[1])), steps=10**6, source=synthetic_source)
"""

@pytest.mark.e2e  # training in another process, killed
def test_kill_9_and_rerun_resumes_exactly(tmp_path):
    """SIGKILL at an arbitrary moment (mid-step, maybe mid-save), then a rerun: the weights
    equal an uninterrupted run of the same length."""
    root = Path(__file__).resolve().parents[2]
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
    train_upscaler.train(*interrupted, steps=target, source=synthetic_source)
    straight = tiny_params(tmp_path / "a")
    train_upscaler.train(*straight, steps=target, source=synthetic_source)
    a = torch.load(tmp_path / "a/run/last.pt", weights_only=True)
    b = torch.load(checkpoint, weights_only=True)
    assert a["step"] == b["step"] == target
    for part in ("G", "D"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), f"{part}.{name} differs"


DDP_RUN = """
import json, sys
from pathlib import Path
from tests.train.helpers import synthetic_source, tiny_params
from train import train_upscaler
result = train_upscaler.train(*tiny_params(Path(sys.argv[1])), source=synthetic_source)
print(json.dumps(result["rank_weight_digests"]))
"""


@pytest.mark.e2e  # torchrun, two processes
def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    """torchrun's environment switches data parallelism on: each rank draws its own crops,
    gradients are averaged, and both ranks end with the same weights."""
    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_RUN)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", str(script), str(tmp_path)], cwd=root,
                          env=dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    digests = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    assert digests and len(digests[0]) == 2 and digests[0][0] == digests[0][1]
    single = train_upscaler.train(*tiny_params(tmp_path / "one"), source=synthetic_source)
    assert single["rank_weight_digests"] != digests[0][:1]  # two ranks saw other batches


def _planted(model: CompactSR, amplitude: float) -> CompactSR:
    """``model`` with a detail branch that is only a constant in one pixel of every output
    cell: the pattern a pixel-shuffle layer can print, and nothing else."""
    with torch.no_grad():
        last = model.features[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[:: model.factor ** 2] = amplitude    # sub-pixel (0, 0) of each colour
    return model.eval()


def test_the_card_scores_each_output_s_lattice_beside_lanczos(tmp_path):
    def source(split):
        for i in range(2):
            yield f"{split}-{i}", painting_array((160, 200), seed=40 + i)

    def scores(amplitude):
        torch.manual_seed(0)
        return train_upscaler.evaluate(_planted(CompactSR(factor=4, channels=8, body_convs=1),
                                                amplitude), source, 2, 128, torch.device("cpu"))

    plain, lattice = scores(0.0), scores(0.02)                      # 0.02: 5 of 255 levels
    assert plain["val_images"] == 2 and {"lattice_db_sr", "lattice_db_lanczos",
                                          "psnr_y_lanczos"} <= plain.keys()
    assert plain["lattice_db_lanczos"] == lattice["lattice_db_lanczos"]
    assert plain["lattice_db_sr"] < plain["lattice_db_lanczos"] + 6  # bilinear: no lattice
    assert lattice["lattice_db_sr"] > plain["lattice_db_lanczos"] + 10


def test_render_s_chain_is_picked_on_held_out_paintings_and_a_lattice_disqualifies():
    def source(split):
        for i in range(2):
            yield f"{split}-{i}", painting_array((300, 280), seed=50 + i)

    def chains(amplitude):
        torch.manual_seed(0)
        return train_upscaler.evaluate_chains(
            _planted(CompactSR(factor=4, channels=8, body_convs=1), amplitude), source, 2, 256,
            torch.device("cpu"))

    plain, lattice = chains(0.0), chains(0.02)
    assert plain["val_images"] == 2 and set(plain["scores"]) == set(train_upscaler.CHAINS)
    # Both read 256 px squares: a bilinear pass (the untrained model) on its own output has no
    # lattice; the planted one prints it twice, far above Lanczos, and is not picked however
    # it scores.
    assert plain["scores"]["sr_sr"]["lattice_excess_db"] < 6
    assert lattice["scores"]["sr_sr"]["lattice_excess_db"] > 10
    assert lattice["pick"] != "sr_sr"
    for result in (plain, lattice):
        assert result["network_passes"] == train_upscaler.CHAINS[result["pick"]]
        assert result["scores"][result["pick"]]["lattice_excess_db"] <= 3.0
    assert plain["scores"]["lanczos"] == lattice["scores"]["lanczos"]


def test_the_chain_pick_is_the_best_psnr_within_the_lattice_goal_more_passes_on_a_tie():
    def scored(**chains):
        return {name: {"psnr_y": psnr, "lattice_excess_db": excess}
                for name, (psnr, excess) in chains.items()}

    pick = train_upscaler.pick_chain
    assert pick(scored(lanczos=(30, 0), sr_lanczos=(30.5, 1), sr_sr=(31, 2.9))) == "sr_sr"
    assert pick(scored(lanczos=(30, 0), sr_lanczos=(30.5, 1), sr_sr=(31, 3.1))) == "sr_lanczos"
    assert pick(scored(lanczos=(30, 0), sr_lanczos=(29, 0), sr_sr=(29.5, 0))) == "lanczos"
    assert pick(scored(lanczos=(30, 0), sr_lanczos=(None, None), sr_sr=(31, None))) == "lanczos"
    # Within PSNR_TIE_DB (0.1 dB) the chain with more passes wins, beyond it the better PSNR.
    assert pick(scored(lanczos=(30, 0), sr_lanczos=(30.5, 1), sr_sr=(30.45, 2))) == "sr_sr"
    assert pick(scored(lanczos=(30, 0), sr_lanczos=(30.5, 1), sr_sr=(30.35, 2))) == "sr_lanczos"
    assert pick(scored(lanczos=(30.05, 0), sr_lanczos=(30, 1), sr_sr=(29, 2))) == "sr_lanczos"
