"""The version of the project code a process ran, for model cards (not ``git describe``)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


PROJECT_PACKAGES = ("demo", "crawl", "curate", "train", "evaluate", "marcus")


def code_version() -> str:
    """``sha256:`` + 16 hex digits over the project source files this process has imported
    (their paths and bytes). The same code gives the same value in any clone and at any
    commit, so a model folder's hash depends on its code, never on ``git describe``; a
    change to any file the stage ran gives a new value (and, through its deps, a rerun)."""
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = Path(path).resolve()
        if path.is_relative_to(PROJECT_ROOT) and path.suffix == ".py" \
                and path.relative_to(PROJECT_ROOT).parts[0] in PROJECT_PACKAGES:
            files.add(path.relative_to(PROJECT_ROOT).as_posix())
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + (PROJECT_ROOT / name).read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()[:16]}"
