"""A copy of this project for runs of its own (the scale benchmark, the pipeline tests), and a
free loopback port for its demo server, so that it never meets the user's own crawls.

    copy_project(dst, from_scratch=True)   # tracked and untracked files, not ignored ones
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_project(dst: Path, from_scratch: bool = False) -> Path:
    """This project's files (tracked and untracked, not ignored) at ``dst``; ``from_scratch``
    drops the working copy's dvc.lock, metrics and plots."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           check=True, capture_output=True, text=True).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dst / rel)
    if from_scratch:
        (dst / "dvc.lock").unlink(missing_ok=True)
        for generated in ("metrics", "plots"):
            shutil.rmtree(dst / generated, ignore_errors=True)
    return dst


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
