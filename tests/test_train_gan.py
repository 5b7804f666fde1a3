"""The GAN training loop end to end: real packs, real steps, real checkpoints, real processes.

Each run uses the `tiny` preset of params.yaml on a handful of synthetic paintings, so a run is
seconds; what is checked is the plumbing the issue promises: exact resume (in process and after
kill -9), identical weights on two gloo ranks, clear errors before any work, and generation.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def make_curated(root: Path, count: int = 24) -> Path:
    """A curated manifest of `count` small synthetic paintings (two kinds, so there is
    something to learn) with images under root/crawl."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(count):
        yy, xx = np.mgrid[0:48, 0:64] / 64.0
        base = rng.uniform(0, 1, size=3)
        img = np.stack([base[c] * (1 - yy) + (xx if i % 2 else yy) * (1 - base[c])
                        for c in range(3)], axis=-1)
        rel = f"demo/images/{i:02d}/{i:064x}"
        path = root / "crawl" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img * 255).astype(np.uint8)).save(path, format="PNG")
        rows.append({"key": f"demo:{i}", "source": "demo", "sha256": f"{i:064x}",
                     "image_path": rel, "width": 64, "height": 48, "cluster_id": i,
                     "artist": f"Painter {i % 3}", "date_start": 1500 + 37 * i,
                     "date_end": 1500 + 37 * i, "object_type": "painting",
                     "licence_rule": "flag:PD + life+70 (died 1600)"})
    manifest = root / "curated.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    return manifest


def run_py(args: list[str], cwd: Path, env_extra: dict | None = None, timeout: int = 300):
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """A project folder with params.yaml (tiny preset) and a packed dataset."""
    root = tmp_path_factory.mktemp("gan")
    make_curated(root)
    params = copy.deepcopy({"pack": PARAMS["pack"], "train_gan": PARAMS["train_gan"]})
    params["pack"].update(curated=str(root / "curated.parquet"), images_root=str(root / "crawl"),
                          out=str(root / "pack"), resolution=16, workers=1, val_fraction=0.2)
    params["train_gan"].update(pack=str(root / "pack"), preset="tiny", device="cpu",
                               threads=1)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    done = run_py(["-m", "train.pack", "--params", "params.yaml"], root)
    assert done.returncode == 0, done.stderr
    return root


def configure(project: Path, name: str, **preset_changes) -> Path:
    """A copy of the project's params with its own run/model/live folders."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    run = project / name
    params["train_gan"].update(out=str(run / "run"), model=str(run / "model"),
                               live=str(run / "live"))
    params["train_gan"]["presets"]["tiny"].update(preset_changes)
    path = project / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def train(project: Path, params_file: Path, *extra: str, **kw):
    done = run_py(["-m", "train.train_gan", "--params", str(params_file), *extra], project, **kw)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def weights(folder: Path) -> dict:
    return torch.load(folder / "model" / "generator.pt", weights_only=True)["G_ema"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


def test_training_writes_model_card_log_and_samples(packed):
    params = configure(packed, "plain")
    done = train(packed, params)
    ticks = [line for line in done.stdout.splitlines() if line.startswith("tick ")]
    assert len(ticks) == 4  # 64 images, a tick per 16
    assert "s/kimg" in ticks[0] and "augment" in ticks[0] and "mem" in ticks[0]
    assert all(" swd " in line for line in ticks)
    card = json.loads((packed / "plain" / "model" / "card.json").read_text())
    assert card["data_fingerprint"] and card["params"]["preset"] == "tiny"
    assert card["per_source"] == {"demo": sum(card["images"].values())}
    live = packed / "plain" / "live"
    assert json.loads((live / "metrics.json").read_text())["step"] == 3
    assert (live / "plots" / "images" / "samples.png").is_file()
    _header, *rows = (live / "plots" / "metrics" / "metric" / "swd.tsv").read_text().split("\n")
    swd_per_tick = [float(row.split("\t")[-1]) for row in rows if row]
    assert len(swd_per_tick) == 4 and all(0 < v < float("inf") for v in swd_per_tick)
    assert torch.isfinite(torch.cat([v.flatten().float() for v in
                                     weights(packed / "plain").values()])).all()


def test_same_seed_same_weights_and_resume_equals_uninterrupted(packed):
    once = configure(packed, "once")
    again = configure(packed, "again")
    split = configure(packed, "split")
    train(packed, once)
    train(packed, again)
    assert_same_weights(weights(packed / "once"), weights(packed / "again"))
    train(packed, split, "--kimg", "0.032")       # half way, then "train longer"
    done = train(packed, split)
    assert "resumed from" in done.stdout
    assert_same_weights(weights(packed / "once"), weights(packed / "split"))
    header, *rows = (packed / "split" / "live" / "plots" / "metrics" / "kimg.tsv"
                     ).read_text().splitlines()
    step = header.split("\t").index("step")
    assert [r.split("\t")[step] for r in rows] == ["0", "1", "2", "3"]  # no tick twice


def test_kill_9_then_rerun_ends_with_the_uninterrupted_weights(packed):
    reference = configure(packed, "reference", kimg=0.128)
    victim = configure(packed, "victim", kimg=0.128)
    train(packed, reference)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "train.train_gan", "--params", str(victim)],
                            cwd=packed, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    checkpoint = packed / "victim" / "run" / "last.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be killed: make the run longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (packed / "victim" / "model").exists()
    done = train(packed, victim)
    assert "resumed from" in done.stdout
    assert_same_weights(weights(packed / "reference"), weights(packed / "victim"))


def test_two_gloo_ranks_end_with_identical_weights(packed):
    params = configure(packed, "ddp")
    done = run_py(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                   "-m", "train.train_gan", "--params", str(params)], packed,
                  {"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    card = json.loads((packed / "ddp" / "model" / "card.json").read_text())
    digests = card["metrics"]["rank_weight_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]


@pytest.mark.parametrize("change, message", [
    ({"resolution": 32}, "pack.resolution=32"),
    ({"batch_gpu": 3}, "not a multiple"),
    ({"batch_gpu": 2**22, "batch_size": 2**22}, "needs about"),
    ({"conditioning": "weather"}, "conditioning must be"),
])
def test_bad_settings_fail_before_any_work_with_a_clear_message(packed, change, message):
    params = configure(packed, "bad", **change)
    done = run_py(["-m", "train.train_gan", "--params", str(params)], packed)
    assert done.returncode != 0 and message in done.stderr, done.stderr[-2000:]
    assert not (packed / "bad" / "run").exists()


def test_missing_pack_is_a_clear_error(tmp_path):
    params = {"train_gan": copy.deepcopy(PARAMS["train_gan"])}
    params["train_gan"].update(pack=str(tmp_path / "nowhere"), out=str(tmp_path / "run"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_py(["-m", "train.train_gan", "--params", "params.yaml"], tmp_path)
    assert done.returncode != 0 and "dvc repro pack" in done.stderr


def test_generate_seeds_mixing_and_interpolation(packed):
    if not (packed / "plain" / "model").exists():
        train(packed, configure(packed, "plain"))
    model = str(packed / "plain" / "model")
    out = packed / "generated"
    for args in (["--seeds", "3,5-6", "--truncation", "0.7"],
                 ["--mix", "1,2", "7,8,9", "--mix-layers", "0-1"],
                 ["--interpolate", "1", "2", "--frames", "5"]):
        done = run_py(["-m", "train.generate", "--model", model, "--out", str(out), *args],
                      packed)
        assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in out.glob("seed*.png")) == [
        "seed0003.png", "seed0005.png", "seed0006.png"]
    assert Image.open(out / "style_mixing.png").size == (4 * 16, 3 * 16)
    frames = [np.asarray(Image.open(out / f"lerp{i:03d}.png")) for i in range(5)]
    assert not np.array_equal(frames[0], frames[-1])
    again = run_py(["-m", "train.generate", "--model", model, "--out", str(packed / "g2"),
                    "--seeds", "3", "--truncation", "0.7"], packed)
    assert again.returncode == 0
    assert np.array_equal(np.asarray(Image.open(out / "seed0003.png")),
                          np.asarray(Image.open(packed / "g2" / "seed0003.png")))
    bad = run_py(["-m", "train.generate", "--model", model, "--out", str(out),
                  "--mix", "1", "2", "--mix-layers", "0-99"], packed)
    assert bad.returncode != 0 and "out of range" in bad.stderr


def test_code_version_is_a_hash_of_the_imported_project_code(tmp_path):
    """Same code, same value in any process (no clock, no git); one more project module
    imported, another value."""
    script = ("from marcus import code_version; a = code_version.code_version(); "
              "import curate.licence; print(a, code_version.code_version())")
    runs = [run_py(["-c", script], cwd=tmp_path) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    (before, after), (again, _) = (r.stdout.split() for r in runs)
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", before) and before == again
    assert after != before
