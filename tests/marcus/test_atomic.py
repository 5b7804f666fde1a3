"""marcus.atomic: outputs written atomically get the usual permissions; scratch folders vanish;
what a killed writer left is removed by the next write of the same target (also while the
killed process is still an unreaped zombie, and not when its pid now belongs to another
process), never a live writer's temporary. The whole-pipeline kills in
tests/pipeline/test_pipeline_guarantees.py rely on this for DVC ``persist`` outs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_atomic_outputs_get_the_usual_permissions(tmp_path):
    """mkstemp/mkdtemp make private temporaries; what they become must be readable as any
    ordinary file or folder is (0644 / 0755 under the usual umask 022)."""
    from marcus.atomic import _UMASK, atomic_dir, write_text

    write_text(tmp_path / "a.json", "{}")
    with atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "inside.txt").write_text("x")
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~_UMASK
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o777 & ~_UMASK


def test_scratch_dir_is_removed_and_a_killed_ones_leftover_too(tmp_path):
    """A scratch folder vanishes on exit; one whose process died (SIGKILL skips `finally`)
    is deleted by the next scratch_dir beside the same target, a live process's is kept."""
    import subprocess
    import sys

    from marcus.atomic import _owner_tag, scratch_dir

    out = tmp_path / "prints"
    with scratch_dir(out) as scratch:
        (scratch / "big.f32").write_bytes(b"x" * 1000)
        assert scratch.parent == tmp_path and scratch.name.startswith(".prints.tmp-")
    assert not scratch.exists()

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = _owner_tag().rsplit("-", 1)[0]
    leftover = tmp_path / f".prints.tmp-{host}-{dead}-abc"
    leftover.mkdir()
    (leftover / "pass0.f32").write_bytes(b"x" * 1000)
    alive = tmp_path / f".prints.tmp-{_owner_tag()}-other"  # this process: still writing
    alive.mkdir()
    with scratch_dir(out):
        pass
    assert not leftover.exists() and alive.exists()


# ----------------------------------------------------------------------------------------------
# What a kill inside an atomic write leaves behind


KILLED_WRITER = """
import os, signal, sys
from marcus.atomic import atomic_dir, atomic_path
with atomic_path(sys.argv[1] + "/last.pt") as tmp:
    tmp.write_bytes(b"half a checkpoint")
    with atomic_dir(sys.argv[1] + "/model") as folder:
        (folder / "generator.pt").write_bytes(b"half a model")
        os.kill(os.getpid(), signal.SIGKILL)
"""

def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    """Inside a DVC persist out (data/train_gan/, data/crawl/SOURCE/) a dead writer's
    temporary would otherwise become part of the out: its hash and its cache."""
    from marcus.atomic import atomic_dir, atomic_path, write_bytes

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], env=env,
                            capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert len(leftovers) == 2 and all(".tmp-" in name for name in leftovers), leftovers

    # A live writer's temporary is never touched by another process's write of the target.
    with atomic_path(tmp_path / "last.pt") as mine:
        mine.write_bytes(b"mine")
        other = subprocess.run([sys.executable, "-c", "import sys; from marcus.atomic import "
                                "write_bytes; write_bytes(sys.argv[1], b'other')",
                                str(tmp_path / "last.pt")], env=env, capture_output=True,
                               timeout=120)
        assert other.returncode == 0, other.stderr.decode()[-2000:]
        assert mine.is_file()
    assert (tmp_path / "last.pt").read_bytes() == b"mine"

    write_bytes(tmp_path / "last.pt", b"whole checkpoint")
    with atomic_dir(tmp_path / "model") as folder:
        (folder / "generator.pt").write_bytes(b"whole model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "model"]
    assert (tmp_path / "model/generator.pt").read_bytes() == b"whole model"


@pytest.mark.e2e  # waits out the clock slack: seconds
@pytest.mark.skipif(not Path("/proc/sys/kernel/ns_last_pid").exists(),
                    reason="needs Linux /proc (process states, the last pid handed out)")
def test_a_zombie_or_a_reused_pid_does_not_keep_a_leftover(tmp_path):
    """Two ways a dead writer's pid still answers kill(pid, 0). A stage SIGKILLed with its
    parent (DVC) is a zombie until init reaps it, which on some machines takes seconds: the
    next `dvc repro` then reached the same stage and kept the leftover (CI, data/.pack.tmp-*).
    And after a reboot the pid may belong to an unrelated process that started later."""
    from marcus.atomic import _CLOCK_SLACK_S, _linux_process, _owner_tag, atomic_dir

    host = _owner_tag().rsplit("-", 1)[0]
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    # Leftovers named after the pids the kernel hands out next (renaming one later would
    # change its ctime), so the process started below finds its pid already on one.
    next_pid = int(Path("/proc/sys/kernel/ns_last_pid").read_text()) + 1
    for pid in range(next_pid, next_pid + 200):
        (tmp_path / f".model.tmp-{host}-{pid}-reused").touch()
    time.sleep(_CLOCK_SLACK_S + 1.5)  # the process below starts clearly after they changed
    zombie, unrelated = subprocess.Popen(sleep), subprocess.Popen(sleep)
    try:
        assert (tmp_path / f".model.tmp-{host}-{unrelated.pid}-reused").exists(), \
            "more than 200 processes started meanwhile"
        zombie.kill()  # and not reaped (no wait) until the end: a zombie meanwhile
        deadline = time.monotonic() + 30
        while _linux_process(zombie.pid)[0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _linux_process(zombie.pid)[0] == "Z"
        of_zombie = tmp_path / f".model.tmp-{host}-{zombie.pid}-zombie"
        of_zombie.mkdir()
        # The same live process's fresh temporary: it may be writing it, so it stays.
        writing = tmp_path / f".model.tmp-{host}-{unrelated.pid}-writing"
        writing.mkdir()

        with atomic_dir(tmp_path / "model") as folder:
            (folder / "generator.pt").write_bytes(b"whole model")
        left = {p.name for p in tmp_path.iterdir()} - {"model", writing.name}
        # Some other process on the machine may have taken a pid of the range within the clock
        # slack of its leftover being made: that one may be its writer, so it rightly stays.
        # Such a pid was handed out before the zombie's; none of ours keeps a leftover.
        kept_pids = {int(name.split("-")[-2]) for name in left}
        assert all(name.endswith("-reused") for name in left), left
        assert all(next_pid <= pid < zombie.pid for pid in kept_pids), (kept_pids, zombie.pid)
        assert (tmp_path / "model").is_dir() and writing.is_dir()
    finally:
        for process in (zombie, unrelated):
            process.kill()
            process.wait()
