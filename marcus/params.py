"""Read one section of ``params.yaml``, the single place where paths and settings live.

Each stage reads its own section (``load_params("demo")``), as DVC tracks it per stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS_FILE = Path("params.yaml")


def load_params(section: str | None = None, path: str | Path = DEFAULT_PARAMS_FILE) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file not found: {path.resolve()} "
                                "(run from the repository root or pass --params)")
    with open(path, encoding="utf-8") as f:
        params = yaml.safe_load(f) or {}
    if section is None:
        return params
    if section not in params:
        raise KeyError(f"{path}: no '{section}' section (have: {', '.join(params)})")
    return params[section]
