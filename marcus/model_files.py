"""Model folders: a model file beside its ``card.json``, written in one step, and read back
with a clear error for a wrong path or a foreign file. The generator, the upscaler and the
feature encoder are all written this way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed

from marcus.atomic import atomic_dir
from marcus.code_version import code_version
from marcus.errors import UserError


def load_model_file(path: str | os.PathLike, filename: str, keys: tuple[str, ...],
                    what: str, hint: str) -> dict:
    """A saved model dict: ``path`` is the file, its model folder (``filename`` inside) or a
    training checkpoint; it must hold ``keys``. Clear exits for a wrong path or file."""
    path = Path(path)
    if path.is_dir():
        path = path / filename
    if not path.is_file():
        raise UserError(f"no {what} at {path} ({hint})")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise UserError(f"{path} is not a readable {what} file: "
                        f"{type(exc).__name__}: {exc}") from None
    if not isinstance(saved, dict) or any(k not in saved for k in keys):
        raise UserError(f"{path} is not a {what} file (it lacks {' / '.join(keys)})")
    return saved


def model_card(model: str, pack_dir: str | os.PathLike, params: dict, metrics: dict,
               **extra) -> dict:
    """What every model folder's ``card.json`` says: what the model is, the data it learnt
    from (the pack's fingerprint and its curated manifest's hash, images per split, per source
    and per licence rule), the code version, the params and the final metrics."""
    card: dict = {"model": model, "code_version": code_version()}
    summary = Path(pack_dir) / "pack.json"
    if summary.is_file():
        info = json.loads(summary.read_text())
        card |= {"pack_fingerprint": info.get("fingerprint"),
                 "manifest_sha256": info.get("manifest_sha256"), "images": info.get("counts")}
        manifest = Path(info.get("params", {}).get("curated", ""))
        if manifest.is_file():
            import pandas as pd
            curated = pd.read_parquet(manifest, columns=["source", "licence_rule"])
            card["per_source"] = curated["source"].value_counts().sort_index().to_dict()
            # "flag:PD + <rule> (evidence) [qualifier]": the date rule that agreed with the
            # source's flag, without its evidence ("life+71", "undated", "workshop: ...").
            rules = (curated["licence_rule"].str.split(" + ", n=1, regex=False).str[1]
                     .str.replace(r" \([^)]*\)| \[[^\]]*\]", "", regex=True))
            card["per_licence_rule"] = (rules.fillna("other").value_counts().sort_index()
                                        .to_dict())
    else:
        card["data"] = f"not from a pack ({summary} does not exist)"
    # Wall-clock time is not content: with it, two runs that end with identical weights would
    # give model folders of different hashes, and DVC would rerun everything downstream.
    metrics = {k: v for k, v in metrics.items() if k != "seconds"}
    return card | extra | {"params": params, "metrics": metrics}


def write_model_folder(folder: str | os.PathLike, card: dict,
                       write_model: Callable[[Path], None]) -> None:
    """Replace the model folder `folder` in one step with the model (``write_model(new_dir)``
    writes its file) and ``card.json``: a model and its card are never out of step, and a
    crash leaves the previous folder whole."""
    with atomic_dir(folder) as tmp:
        write_model(tmp)
        (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
