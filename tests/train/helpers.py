"""What the train tests share: small curated manifests and their images for the pack and its
reader; upscalers with randomised weights; a tiny upscaler training setup (also imported by the
scripts that test_train_upscaler.py runs in other processes); and GAN runs in a packed project
(tests/train/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from PIL import Image, ImageCms

from tests.images import painting, painting_array, write
from tests.projects import run_py
from train.upscaler import CompactSR

# ----------------------------------------------------------------------------------------------
# Packs: curated manifests and images under root/crawl

SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def save(root, rel, image: Image.Image, fmt: str = "PNG", **options) -> str:
    """``image`` written at root/crawl/rel; returns ``rel``, the manifest's image_path."""
    write(root / "crawl" / rel, image, fmt, **options)
    return rel


def row(key: str, rel: str | None, cluster_id: int, **extra) -> dict:
    return {"key": key, "source": key.split(":")[0], "sha256": key, "image_path": rel,
            "width": 0, "height": 0, "cluster_id": cluster_id, "copies": [key],
            "artist": "Anna Painter", "date_start": 1650, "date_end": 1660,
            "object_type": "painting", "genre": None, **extra}


def write_manifest(root, rows: list[dict]):
    path = root / "curated.parquet"
    frame = pd.DataFrame(rows, columns=list(row("a:0", None, 0)))
    frame.to_parquet(path, index=False)
    return path


def settings(root, **changes) -> dict:
    """A ``pack`` params section for the collection under ``root``."""
    return {"resolution": 8, "aspect": "centre_crop", "crops_per_image": 4,
            "crop_min_fraction": 0.6, "val_fraction": 0.3, "seed": 1234, "codec": "png",
            "jpeg_quality": 95, "shard_images": 4096, "native_max_side": 1024, "workers": 1,
            **changes}


def paths_for(root, **changes) -> dict:
    """The ``paths`` the pack stage reads: the manifest in ``root``, images under
    ``root/crawl``, the pack written to ``root/pack``."""
    return {"curate": str(root), "crawl": str(root / "crawl"), "pack": str(root / "pack"),
            **changes}


def stage(root, curate=None, crawl=None, pack=None, **changes) -> tuple[dict, dict]:
    """``pack(*stage(root, ...))``: the section and paths, any of the three paths replaced."""
    moved = {k: str(v) for k, v in (("curate", curate), ("crawl", crawl), ("pack", pack))
             if v is not None}
    return settings(root, **changes), paths_for(root, **moved)


def collection(root, count: int = 10) -> list[dict]:
    """`count` artworks of varied sizes and labels; one is smaller than 8 px."""
    rows = []
    for i in range(count):
        size = (6, 6) if i == 3 else (20 + 3 * i, 14 + 2 * (i % 4))
        # One carries an ICC profile, which must not travel into the native PNG.
        icc = {"icc_profile": SRGB_PROFILE} if i == 1 else {}
        rel = save(root, f"src/images/{i:02d}/img{i}", painting(size, seed=i), **icc)
        rows.append(row(f"src:{i:03d}", rel, cluster_id=i, artist=f"Painter {i % 3}",
                        date_start=[1450, 950, None][i % 3],
                        object_type="panel" if i % 4 == 0 else "painting",
                        genre=["portrait", "landscape art|portrait", None][i % 3]))
    write_manifest(root, rows)
    return rows


def files_of(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ----------------------------------------------------------------------------------------------
# Upscalers: random weights, and a tiny training setup on synthetic paintings


def random_model(factor: int, body_convs: int = 2, seed: int = 0) -> CompactSR:
    torch.manual_seed(seed)
    model = CompactSR(factor=factor, channels=8, body_convs=body_convs).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


def synthetic_source(split: str):
    """Six synthetic paintings per split, the first too small to crop (it is skipped)."""
    first = 0 if split == "train" else 100
    yield f"{split}-small", painting_array((20, 20), seed=first)
    for i in range(5):
        yield f"{split}-{i}", painting_array((70 + i, 90), seed=first + 1 + i)


def tiny_params(root) -> tuple[dict, dict]:
    """A tiny ``train_upscaler`` section and the ``paths`` of a run under ``root``:
    ``train_upscaler.train(*tiny_params(root), source=synthetic_source)``."""
    preset = dict(factor=4, channels=8, body_convs=2, d_channels=8, hr_crop_px=32,
                  batch_size=4, steps=8, steps_per_tick=2, snapshot_ticks=1, lr=5e-4,
                  d_lr=2e-4, lr_decay_steps=8, l1_weight=1.0, consistency_weight=1.0,
                  lattice_weight=1.0, adversarial_weight=0.01,
                  gan_start_step=3, crops_per_image=2, bank_refresh_steps=3, eval_images=2,
                  eval_crop_px=48)
    params = {"seed": 5, "device": "cpu", "launcher": "python", "threads": 1, "preset": "tiny",
              "presets": {"tiny": preset}}
    paths = {"pack": str(root / "pack"), "train_upscaler": str(root / "run"),
             "upscaler": str(root / "model"), "upscaler_live": str(root / "live")}
    return params, paths


# ----------------------------------------------------------------------------------------------
# GAN runs in the packed project (tests/train/conftest.py)


def configure(project: Path, name: str, **preset_changes) -> Path:
    """A copy of the project's params with its own run/model/live folders."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    run = project / name
    params["paths"].update(train_gan=str(run / "run"), gan=str(run / "model"),
                           gan_live=str(run / "live"))
    params["train_gan"]["presets"]["tiny"].update(preset_changes)
    path = project / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def train(project: Path, params_file: Path, *extra: str, **kw):
    done = run_py(["-m", "train.train_gan", "--params", str(params_file), *extra], project, **kw)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def weights(folder: Path) -> dict:
    return torch.load(folder / "model" / "generator.pt", weights_only=True)["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"
