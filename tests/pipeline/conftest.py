"""Tiny copies of this project for real `dvc repro` runs: a git repository holding the project's
files with tiny params.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks.project_copy import copy_project


def _copy_tiny_project(dst: Path, run, from_scratch: bool = False, **sections) -> Path:
    """A git repository at `dst` holding this project's files (tracked and untracked, not
    ignored) with tiny params: 60 demo artworks, the tiny training presets, a 200 px print, a
    48 px style transfer printed at 100 px.
    `from_scratch` drops the working copy's dvc.lock, metrics and plots; `sections` update
    params sections (``crawl={"demo_port": 1234}``). `run(cmd, cwd)` runs git."""
    copy_project(dst, from_scratch)
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["demo"].update(artworks=60, oversized_mib=1)
    params["pack"].update(val_fraction=0.3, resolution=16)  # held-out images even from 20 works
    params["train_gan"]["preset"] = "tiny"
    params["train_upscaler"]["preset"] = "tiny"
    params["render"].update(seeds=[3], inches=1, dpi=200)  # 16 px -> x4 -> x4 -> 200 px
    params["evaluate"].update(samples=16, encoder_steps=4, gallery_pairs=2)
    # 48 px -> 100 px; styles: the first curated painting (a tiny demo may curate no landscape)
    params["stylize"].update(photograph_px=[64, 48], inches=1, dpi=100, style_query="")
    # Few steps at 32 px, more at 48: the crash test's kill lands between the two scales.
    params["stylize"]["transfer"].update(min_px=32, max_px=48, steps_per_scale=[3, 40])
    for section, values in sections.items():
        params[section].update(values)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], dst)
    run(["git", "add", "-A"], dst)
    run(["git", "commit", "-qm", "init"], dst)
    return dst


@pytest.fixture(scope="session")
def tiny_project():
    """``tiny_project(dst, run, from_scratch=False, **sections)``: see `_copy_tiny_project`."""
    return _copy_tiny_project
