"""Atomic writes: a reader sees the old file or the new one, never half of either.

Every file and folder the pipeline produces goes through these helpers, so a crash (even
SIGKILL) at any moment leaves either the previous complete output or none, plus at most a
stray ``.NAME.tmp-HOST-PID-*`` (or ``.NAME.old-HOST-PID``) sibling, which the next write of the
same target deletes once that writer is dead. (Before, the stray stayed for good: inside a
DVC ``persist`` out such as ``data/train_gan/`` or ``data/crawl/SOURCE/`` it became part of
the out's hash and cache, so a run killed while saving never matched an uninterrupted one.)
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Leftovers are only judged by the host that made them: a pid means nothing on another machine
# sharing the folder. No "-" in the name, so "tmp-HOST-PID-RANDOM" splits unambiguously.
_HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def _owner_tag() -> str:
    return f"{_HOST}-{os.getpid()}"


# How far a process's start time, as /proc gives it (whole-second boot time plus clock ticks),
# may stray from the file-system clock that stamps a leftover.
_CLOCK_SLACK_S = 2.0


def _linux_process(pid: int) -> tuple[str, float] | None:
    """(state letter, start time in seconds since the epoch) of ``pid`` from /proc, or None
    where /proc cannot tell (not Linux, or the process is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot_s = next(float(line.split()[1]) for line in Path("/proc/stat").read_text()
                      .splitlines() if line.startswith("btime "))
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        return fields[0], boot_s + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _writer_alive(pid: int, leftover: Path) -> bool:
    """Whether process ``pid`` may still be writing ``leftover``.

    Not when no such process exists, nor (on Linux) when it is a zombie: a stage killed
    together with its parent (DVC) stays one until init reaps it, which on some machines
    takes seconds, long enough for the next `dvc repro` to reach the same stage. Nor when the
    process started after the leftover last changed: the pid was reused (after a reboot, say)
    by a process that cannot have made it. The change time (ctime) is used because no writer
    can set it back, unlike the mtime (``shutil.copy2`` does).
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process: /proc still tells its state
        pass
    process = _linux_process(pid)
    if process is None:
        return True
    state, started_s = process
    if state in ("Z", "X"):
        return False
    try:
        changed_s = leftover.lstat().st_ctime
    except FileNotFoundError:
        return True  # its writer (or another cleaner) just removed it
    return started_s <= changed_s + _CLOCK_SLACK_S


def _remove_dead_leftovers(target: Path) -> None:
    """Delete the temporaries and ``.old`` folders of ``target`` whose writer has died.

    Those of a live writer (another process writing the same target right now), of another
    host, or in the old nameless format are left alone.
    """
    for path in target.parent.glob(f".{glob.escape(target.name)}.*-*"):
        kind, _, owner = path.name[len(target.name) + 2:].partition("-")
        parts = owner.split("-")
        if kind not in ("tmp", "old") or len(parts) < 2 or parts[0] != _HOST \
                or not parts[1].isdigit() or _writer_alive(int(parts[1]), path):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any writer thread
    # exists (setting it while threads create files would race with them).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _usual_mode(path: Path, directory: bool) -> None:
    """Give a temporary the permissions an ordinary open() or mkdir() would have: mkstemp and
    mkdtemp create them private (0600, 0700), and the pipeline's outputs are meant to be read
    by everyone the umask allows (teammates on a shared machine, a web server for prints)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_UMASK)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically.

    Works for writers that want a path (pyarrow, Pillow, torch.save). On an exception the
    temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_leftovers(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-{_owner_tag()}-", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        _usual_mode(tmp_path, directory=False)
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def _fresh_dir_beside(target: Path) -> Path:
    """A new private folder in ``target``'s folder, named as ``target``'s temporary, after
    deleting those a dead process left there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_leftovers(target)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{_owner_tag()}-",
                                 dir=target.parent))


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``target``; on success it becomes ``target``.

    An existing ``target`` is replaced only after the new folder is complete.
    """
    target = Path(target)
    tmp = _fresh_dir_beside(target)
    try:
        yield tmp
        _usual_mode(tmp, directory=True)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{_owner_tag()}")
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def scratch_dir(beside: str | os.PathLike) -> Iterator[Path]:
    """A private working folder next to ``beside`` (so on the same disk), deleted on exit.

    A kill skips the deletion; the next ``scratch_dir`` or atomic write for the same
    ``beside`` deletes what a dead process left, so large intermediates do not pile up.
    """
    tmp = _fresh_dir_beside(Path(beside))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
