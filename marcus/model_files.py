"""Model files and folders: one format and one loader for every model the pipeline trains.

A model folder holds the model file beside its ``card.json``, written in one step. A model
file is a ``torch.save`` dict::

    {"format": "marcus.generator", "model": state_dict, "model_kwargs": {...}, "card": {...}}

``format`` names the kind of model (:data:`GENERATOR`, :data:`UPSCALER`, :data:`ENCODER`, each
defined by its own package), ``model_kwargs`` rebuilds the module, ``card`` repeats card.json.
:func:`load_model` reads any of them back, from the folder, the file or (where the kind says
how) a training checkpoint, with one clear error for a wrong path or a foreign file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed

from marcus.atomic import atomic_dir
from marcus.code_version import code_version
from marcus.errors import UserError


@dataclass(frozen=True)
class ModelKind:
    """What :func:`load_model` needs to know about one kind of model."""
    format: str                          # the model file's "format" value
    filename: str                        # the model file's name inside its folder
    build: Callable[..., torch.nn.Module]  # model_kwargs -> an untrained module
    hint: str                            # how a user gets one, for the "not found" message
    checkpoint_keys: tuple[str, str] | None = None  # (weights, kwargs) in a training last.pt


def save_model_file(path: str | os.PathLike, kind: ModelKind, module: torch.nn.Module,
                    model_kwargs: dict, card: dict | None = None) -> None:
    """Write ``module`` in the model-file format of ``kind`` to ``path``."""
    torch.save({"format": kind.format, "model": module.state_dict(),
                "model_kwargs": model_kwargs, "card": card}, path)


def load_model(path: str | os.PathLike, kind: ModelKind,
               device: torch.device | str = "cpu") -> torch.nn.Module:
    """The model of ``kind`` saved at ``path`` (its model folder, the file inside, or a
    training checkpoint where ``kind.checkpoint_keys`` says how to read one), in evaluation
    mode without gradients; a UserError for a wrong path or a file of another kind."""
    path = Path(path)
    if path.is_dir():
        path = path / kind.filename
    name = kind.format.removeprefix("marcus.")
    if not path.is_file():
        raise UserError(f"no {name} at {path} ({kind.hint})")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise UserError(f"{path} is not a readable {name} file: "
                        f"{type(exc).__name__}: {exc}") from None
    if isinstance(saved, dict) and saved.get("format") == kind.format:
        weights, kwargs = saved.get("model"), saved.get("model_kwargs")
    elif kind.checkpoint_keys and isinstance(saved, dict) and all(
            k in saved for k in kind.checkpoint_keys):
        weights, kwargs = (saved[k] for k in kind.checkpoint_keys)
    else:
        found = saved.get("format") if isinstance(saved, dict) else None
        raise UserError(f"{path} is not a model file of kind {kind.format}"
                        + (f" (it holds {found})" if found else ""))
    try:
        module = kind.build(**kwargs)
        module.load_state_dict(weights, strict=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"{path}: the weights do not fit the saved {name} settings: "
                        f"{exc}") from None
    # What the model file says of itself (its card.json; None for a training checkpoint):
    # a caller such as render reads choices made on held-out data from it.
    module.card = saved.get("card") if saved.get("format") == kind.format else None
    return module.eval().requires_grad_(False).to(device)


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


def write_model_folder(folder: str | os.PathLike, card: dict, kind: ModelKind,
                       module: torch.nn.Module, model_kwargs: dict) -> None:
    """Replace the model folder `folder` in one step with the model file of ``kind`` and
    ``card.json``: a model and its card are never out of step, and a crash leaves the
    previous folder whole."""
    with atomic_dir(folder) as tmp:
        save_model_file(tmp / kind.filename, kind, module, model_kwargs, card)
        (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
