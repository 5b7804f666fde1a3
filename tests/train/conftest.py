"""A packed tiny project for the GAN tests (test_train_gan.py, test_generate.py), built once per
module: the runs of one module share it, and no module depends on another's runs.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.projects import PARAMS, make_curated, run_py


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """A project folder with params.yaml (tiny preset) and a packed dataset."""
    root = tmp_path_factory.mktemp("gan")
    make_curated(root)
    params = copy.deepcopy({"paths": PARAMS["paths"], "pack": PARAMS["pack"],
                            "train_gan": PARAMS["train_gan"]})
    params["paths"].update(curate=str(root), crawl=str(root / "crawl"), pack=str(root / "pack"))
    params["pack"].update(resolution=16, workers=1, val_fraction=0.2)
    params["train_gan"].update(preset="tiny", device="cpu", threads=1)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    done = run_py(["-m", "train.pack", "--params", "params.yaml"], root)
    assert done.returncode == 0, done.stderr
    return root
