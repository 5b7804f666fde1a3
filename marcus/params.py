"""Read one section of ``params.yaml``, the single place where paths and settings live.

Each stage reads its own section (``load_params("demo")``), as DVC tracks it per stage, and
the ``paths`` section (``load_params("paths")``, checked here: every path the pipeline writes,
defined once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from marcus.errors import UserError

DEFAULT_PARAMS_FILE = Path("params.yaml")
# The keys of the ``paths`` section: where each stage writes, read by the stage and every
# reader of its output (their meaning: the comments in params.yaml).
PATHS_SPEC = dict.fromkeys(
    ("demo", "crawl", "hashes", "curate", "curate_verdicts", "pack", "train_gan", "gan",
     "train_upscaler", "upscaler", "encoder", "prints", "eval", "demo_metrics",
     "crawl_metrics", "curate_metrics", "curate_plots", "gan_live", "upscaler_live",
     "eval_metrics", "eval_plots", "stylized", "stylize_run", "stylize_metrics", "timings"),
    str)


def load_params(section: str | None = None, path: str | Path = DEFAULT_PARAMS_FILE) -> Any:
    """The whole params file, or one section of it; a missing or unreadable file, or a missing
    section, is a ``UserError`` that says which."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"params file not found: {path.resolve()} "
                        "(run from the repository root or pass --params)")
    try:
        with open(path, encoding="utf-8") as f:
            params = yaml.safe_load(f) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{path} is not a readable YAML file: {exc}") from None
    if not isinstance(params, dict):
        raise UserError(f"{path} must hold a mapping of sections, not {type(params).__name__}")
    if section is None:
        return params
    if section not in params:
        raise UserError(f"{path}: no '{section}' section (have: {', '.join(map(str, params))})")
    if section == "paths":
        from marcus.config import check
        check("paths", params["paths"], PATHS_SPEC)
    return params[section]
