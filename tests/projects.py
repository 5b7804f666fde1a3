"""Small project folders for tests that run the stages' command lines: the project's params, a
curated manifest of synthetic paintings with its images, and a module run in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from tests.images import painting, write

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def make_curated(root: Path, count: int = 24) -> Path:
    """A curated manifest of `count` small synthetic paintings (64 x 48 px PNGs) with images
    under root/crawl."""
    rows = []
    for i in range(count):
        rel = f"demo/images/{i:02d}/{i:064x}"
        write(root / "crawl" / rel, painting((64, 48), seed=i))
        rows.append({"key": f"demo:{i}", "source": "demo", "sha256": f"{i:064x}",
                     "image_path": rel, "width": 64, "height": 48, "cluster_id": i,
                     "artist": f"Painter {i % 3}", "date_start": 1500 + 37 * i,
                     "date_end": 1500 + 37 * i, "object_type": "painting",
                     "genre": ["portrait", "landscape art", "still life"][i % 3],
                     "licence_rule": "flag:PD + life+70 (died 1600)"})
    manifest = root / "curated.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    return manifest


def run_py(args: list[str], cwd: Path, env_extra: dict | None = None, timeout: int = 300):
    """``python ARGS`` in ``cwd`` with this project importable; the CompletedProcess."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
