"""The GPU presets proven on the CPU before a GPU is at hand (issue 22): each takes an optimiser
step at its full resolution and channel counts (batch 1, the lazy regularisation included, since
step 0 runs both R1 and the path-length penalty), writes its checkpoint and resumes from it,
through the same commands a GPU run uses; the memory estimate that refuses a preset too large for
the device is an upper bound of what the step used."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import yaml

from tests.images import painting_array
from tests.projects import PARAMS, make_curated, run_py

GAN_PRESETS = ("gpu256", "gpu512", "gpu1024")
# One step at batch 1: kimg and tick in images / 1000.
ONE_STEP = {"batch_size": 1, "batch_gpu": 1, "kimg": 0.001, "tick_kimg": 0.001,
            "snapshot_ticks": 1, "metric_images": 0, "grid_seeds": [0], "grid_columns": 1,
            "data_workers": 0}


def gan_project(root, preset: str):
    resolution = PARAMS["train_gan"]["presets"][preset]["resolution"]
    make_curated(root, count=4)
    params = copy.deepcopy({"paths": PARAMS["paths"], "pack": PARAMS["pack"],
                            "train_gan": PARAMS["train_gan"]})
    params["paths"] = {k: str(root / v) for k, v in params["paths"].items()}
    params["paths"].update(curate=str(root), crawl=str(root / "crawl"))
    params["pack"].update(resolution=resolution, workers=1, val_fraction=0.0)
    params["train_gan"].update(preset=preset, device="cpu", threads=2)
    params["train_gan"]["presets"][preset].update(ONE_STEP)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    packed = run_py(["-m", "train.pack", "--params", "params.yaml"], root)
    assert packed.returncode == 0, packed.stderr
    return params


@pytest.mark.slow
@pytest.mark.parametrize("preset", GAN_PRESETS)
def test_each_gan_gpu_preset_takes_a_full_size_step_on_the_cpu_and_resumes_from_its_checkpoint(
        tmp_path, preset):
    params = gan_project(tmp_path, preset)
    first = run_py(["-m", "train.train_gan", "--params", "params.yaml",
                    "--timings", "first.json"], tmp_path, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "tick 1 " in first.stdout
    assert (tmp_path / params["paths"]["train_gan"] / "last.pt").is_file()
    again = run_py(["-m", "train.train_gan", "--params", "params.yaml", "--kimg", "0.002"],
                   tmp_path, timeout=1200)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed from" in again.stdout
    card = json.loads((tmp_path / params["paths"]["gan"] / "card.json").read_text())
    assert card["metrics"]["steps"] == 2 and card["params"]["preset"] == preset
    timings = json.loads((tmp_path / "first.json").read_text())
    estimate, peak = timings["memory_estimate_mib"], timings["peak_memory_mib"]
    print(f"{preset}: memory estimate {estimate} MiB, peak RSS {peak} MiB on the CPU "
          f"({estimate / peak:.2f}x)")
    assert peak <= estimate


@pytest.mark.slow
def test_the_upscaler_gpu_preset_takes_a_full_size_step_on_the_cpu_and_resumes(tmp_path,
                                                                            capsys):
    from train import train_upscaler

    def source(split):
        first = 0 if split == "train" else 100
        for i in range(2):
            yield f"{split}-{i}", painting_array((300, 280), seed=first + i)

    params = copy.deepcopy(PARAMS["train_upscaler"])
    params.update(preset="gpu", device="cpu", threads=2)
    params["presets"]["gpu"].update(batch_size=1, steps=1, steps_per_tick=1, snapshot_ticks=1,
                                    gan_start_step=0, crops_per_image=1, eval_images=1)
    paths = {k: str(tmp_path / v) for k, v in PARAMS["paths"].items()}
    first = train_upscaler.train(params, paths, source=source)
    assert first["steps"] == 1
    assert (tmp_path / PARAMS["paths"]["train_upscaler"] / "last.pt").is_file()
    again = train_upscaler.train(params, paths, steps=2, source=source)
    assert "resumed from" in capsys.readouterr().out
    assert again["steps"] == 2 and np.isfinite(again["psnr_y_sr"])
