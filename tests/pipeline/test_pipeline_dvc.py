"""Real DVC runs in a temporary git repository: the pipeline as a user meets it."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


def run(cmd, cwd, **kw):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(cwd), "DVC_NO_ANALYTICS": "1",
           "PYTHONPATH": str(cwd), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          **kw)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture
def repo_copy(tmp_path, tiny_project):
    """A git repository holding this project's tracked files, with a tiny demo size."""
    return tiny_project(tmp_path / "marcus", run)


def test_dvc_repro_builds_then_is_a_no_op_and_experiments_vary_params(repo_copy):
    run(["dvc", "repro"], repo_copy)
    truth = pd.read_parquet(repo_copy / "data/demo/ground_truth.parquet")
    assert truth.loc[truth["hand"] == 0, "artwork_id"].nunique() == 60  # replicas on top
    assert (repo_copy / "metrics/demo.json").is_file()
    for source in ("met", "aic", "cleveland", "nga", "commons", "urls"):
        crawled = pd.read_parquet(repo_copy / f"data/crawl/{source}/records.parquet")
        assert len(crawled) > 0, source
        assert (repo_copy / f"metrics/crawl/{source}.json").is_file()
    again = run(["dvc", "repro"], repo_copy)
    assert "didn't change, skipping" in again.stdout or "up to date" in again.stdout
    assert (repo_copy / "data/models/gan/generator.pt").is_file()
    card = json.loads((repo_copy / "data/models/gan/card.json").read_text())
    assert card["data_fingerprint"] and card["per_source"]
    evaluation = json.loads((repo_copy / "metrics/eval.json").read_text())
    assert set(evaluation["sets"]) == {"gan", "markov", "real"}
    assert (repo_copy / "data/eval/report.html").is_file()
    upscaler_card = json.loads((repo_copy / "data/models/upscaler/card.json").read_text())
    assert upscaler_card["metrics"]["steps"] == 12
    # A card beside every model: data (pack and manifest hashes, counts per source and licence
    # rule), params, code version and metrics, all from the same curated manifest.
    manifest = pd.read_parquet(repo_copy / "data/curate/curated.parquet")
    for folder in ("gan", "upscaler", "encoder"):
        model_card = json.loads((repo_copy / f"data/models/{folder}/card.json").read_text())
        missing = {"model", "pack_fingerprint", "manifest_sha256", "images", "per_source",
                   "per_licence_rule", "code_version", "params", "metrics"} - set(model_card)
        assert not missing, (folder, missing)
        assert sum(model_card["per_source"].values()) == len(manifest), folder
        # Every curated row is counted under the date rule that passed it, none as "other".
        assert sum(model_card["per_licence_rule"].values()) == len(manifest), folder
        assert "other" not in model_card["per_licence_rule"], model_card["per_licence_rule"]
        assert model_card["manifest_sha256"] == card["manifest_sha256"], folder
    with Image.open(repo_copy / "data/prints/seed0003.png") as im:
        assert im.size == (200, 200)
        assert [round(v) for v in im.info["dpi"]] == [200, 200]
    with Image.open(repo_copy / "data/stylized/stylized.png") as im:
        assert im.size == (100, 75) and [round(v) for v in im.info["dpi"]] == [100, 100]
    stylized = json.loads((repo_copy / "metrics/stylize.json").read_text())
    assert stylized["optimised_px"] == [36, 48] and stylized["style_keys"]

    # Varying training reruns training and what follows it, not crawl, curate or pack.
    changed = run(["dvc", "exp", "run", "-S", "train_gan.seed=7"], repo_copy)
    ran = {line.split("'")[1] for line in changed.stdout.splitlines()
           if line.startswith("Running stage")}
    assert ran == {"train_gan", "render", "evaluate"}, changed.stdout

    run(["dvc", "exp", "run", "-S", "demo.artworks=50"], repo_copy)
    truth = pd.read_parquet(repo_copy / "data/demo/ground_truth.parquet")
    assert truth.loc[truth["hand"] == 0, "artwork_id"].nunique() == 50  # replicas on top
