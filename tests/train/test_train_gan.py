"""The GAN training loop end to end (train/train_gan.py): real packs, real steps, real
checkpoints, real processes.

Each run uses the `tiny` preset of params.yaml on a handful of synthetic paintings (the packed
project of tests/train/conftest.py), so a run is seconds; what is checked is the plumbing the
issue promises: exact resume (in process and after kill -9), identical weights on two gloo
ranks, clear errors before any work.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from tests.projects import PARAMS, REPO, run_py
from tests.train.helpers import assert_same_weights, configure, train, weights

pytestmark = pytest.mark.e2e


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


def test_one_param_conditions_the_generator_on_genre(packed):
    done = train(packed, configure(packed, "by-genre", conditioning="genre"))
    card = json.loads((packed / "by-genre" / "model" / "card.json").read_text())
    vocab = json.loads((packed / "pack" / "vocab.json").read_text())["genre"]
    assert card["params"]["conditioning"] == "genre" and len(vocab) >= 2
    assert weights(packed / "by-genre")["mapping.embed.weight"].shape[1] == len(vocab)
    assert "tick " in done.stdout


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


def test_cpu_bfloat16_trains_the_fp16_blocks_in_bfloat16_and_only_where_asked(packed):
    """The GPU's mixed-precision path end to end on the CPU: with cpu_bfloat16 the
    num_fp16_res blocks compute in bfloat16 (other weights than float32's, still finite)."""
    runs = {}
    for name, bfloat16 in (("mixed-fp32", False), ("mixed-bf16", True)):
        path = configure(packed, name, num_fp16_res=2)
        params = yaml.safe_load(path.read_text())
        params["train_gan"]["cpu_bfloat16"] = bfloat16
        path.write_text(yaml.safe_dump(params))
        train(packed, path)
        runs[name] = weights(packed / name)
    for tensors in runs.values():
        assert torch.isfinite(torch.cat([v.flatten().float() for v in tensors.values()])).all()
    assert not all(torch.equal(runs["mixed-fp32"][k], runs["mixed-bf16"][k])
                   for k in runs["mixed-fp32"])


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
    params = copy.deepcopy({"paths": PARAMS["paths"], "train_gan": PARAMS["train_gan"]})
    params["paths"].update(pack=str(tmp_path / "nowhere"), train_gan=str(tmp_path / "run"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_py(["-m", "train.train_gan", "--params", "params.yaml"], tmp_path)
    assert done.returncode != 0 and "dvc repro pack" in done.stderr
