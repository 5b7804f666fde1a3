"""Every stage before training as the collection grows, measured as curves (issue 18, item 2).

For each size N the benchmark copies this project into a git repository of its own, sets a
scaled demo of N artworks (``demo.size_scale`` 0.5, ``demo.painter`` fast; curate's size rules
scaled alike, so the ground truth's rejects hold) and runs the pipeline stage by stage, in
order, as ``dvc repro --single-item STAGE``: demo, the nine crawls, the nine hash stages,
curate, pack. Per stage it records what the user waits for and what the machine must have:

- ``wall_s`` and ``cpu_s`` (user + system of every process of the stage, DVC's own hashing
  and caching of the outputs included);
- ``peak_rss_mib``: the largest resident set of any one of its processes;
- ``disk_mib``: the stage's outputs, each once: the project's DVC cache links them
  (``CACHE_TYPE``), where a user's default copies them on a file system without reflinks;
- ``steps``, where the stage prints them (curate does): each step's seconds and counts;
- for a stage stopped and resumed (a session's end), ``attempts`` and ``redone_s``: the time
  its later attempts spent again on steps an earlier one had finished. The fit, the table and
  the plot take wall time less ``redone_s``: one run without stops.

The nine crawls and nine hash stages are summed into ``crawl`` and ``hash`` (their peak is the
largest of any one). Training stages are left out on purpose: their cost is set by ``kimg``
and the preset, not by the collection's size (``python -m benchmarks train_throughput``).

Each cost's growth exponent is fitted on log-log against the number of crawled records, over the
runs within a decade of the largest (``FIT_WITHIN``: the small runs' fixed costs would pull it
down), and every cost is given at 10k, 100k, 300k and 1M records: measured where a run had that
many (within 10 %), else extrapolated from the largest run along the fitted exponent and marked
so, but only from three sizes or more reaching 10,000 records: below that, fixed per-stage costs
dominate and the exponents say nothing about large collections (the README table is then left).
The curves are drawn to ``benchmarks/results/scale.png`` and the table is written to
``benchmarks/results/scale.md``, which the README includes between its ``scale table`` markers.

    python -m benchmarks scale               # N = 1k, 3k, 10k artworks: about an hour on 2 cores
    python -m benchmarks scale --sizes 3000,10000,30000,100000   # larger: many hours
    python -m benchmarks scale --quick       # N = 300, 1,000: a smoke run
    python -m benchmarks scale --sizes 100000 --add --workdir /data/scale   # one more size,
        # with the committed runs; stopped (a session's end), the same command goes on
    python -m benchmarks scale --sizes 100000 --progress --workdir /data/scale   # its stage
        # groups ended so far into the committed results, while it runs or stopped
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from PIL import Image, ImageDraw

from benchmarks.dvc_scale import exponent
from benchmarks.project_copy import REPO, copy_project, free_port
from marcus.atomic import write_text
from marcus.errors import UserError
from marcus.timings import peak_rss_mib

RESULTS = Path(__file__).parent / "results"
README = REPO / "README.md"
SCALED_DEMO = {"size_scale": 0.5, "painter": "fast"}
# DVC's cache links the outputs at every size: each output lies on disk once (a second copy
# of the 100k run's would not fit a 2-core machine's disk), and no size pays for a copy that
# the others do not. A user's default (reflink, else hardlink, else copy) copies on ext4.
CACHE_TYPE = "hardlink"
GROUPS = ("demo", "crawl", "hash", "curate", "pack")
COSTS = ("wall_s", "cpu_s", "peak_rss_mib", "disk_mib")
AT_RECORDS = (10_000, 100_000, 300_000, 1_000_000)
# Stages that keep a killed run's work and go on from it (a crawl's journal, curate's verdicts).
RESUMABLE = ("crawl", "curate")
CHECKPOINT_S = 30  # a running stage's figures so far are saved this often (kept runs)
POLL_S = 0.2  # how often the benchmark looks at a running stage
STOPPED_AFTER_S = 5.0  # a poll this late means the benchmark was stopped, not the stage slow
MEASURED_WITHIN = 0.1  # a run this close to a column's record count counts as measured there
# Below these, fixed costs (a DVC invocation, a Scrapy start, about 5 s per stage) dominate and
# the fitted exponents say nothing about large collections: no extrapolation, no README table.
MIN_RUNS_TO_EXTRAPOLATE = 3
MIN_RECORDS_TO_EXTRAPOLATE = 10_000
# The exponent is fitted on the runs within this factor of the largest (the two largest at
# least): fixed costs weigh on the small runs and would pull it down, toward a floor.
FIT_WITHIN = 10.0
TABLE_MARKERS = ("<!-- scale table: written by python -m benchmarks scale -->",
                 "<!-- end of scale table -->")


# ----------------------------------------------------------------------------------------------
# One size


def scaled_project(root: Path, artworks: int) -> Path:
    """This project's files (tracked and untracked, not ignored) in a fresh git repository at
    ``root``, without the lock and metrics, with a scaled demo of ``artworks`` artworks."""
    copy_project(root, from_scratch=True)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["demo"].update(artworks=artworks, **SCALED_DEMO)
    params["crawl"]["demo_port"] = free_port()  # never the port of the user's own crawls
    scale = SCALED_DEMO["size_scale"]
    params["curate"]["min_short_side_px"] = round(params["curate"]["min_short_side_px"] * scale)
    params["curate"]["min_pixels"] = round(params["curate"]["min_pixels"] * scale ** 2)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / ".dvc" / "config.local").write_text(f"[cache]\n    type = {CACHE_TYPE}\n")
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost",
                     "commit", "-qm", "scaled"]):
        subprocess.run(command, cwd=root, check=True, capture_output=True)
    return root


def commit_of(repo: Path) -> str:
    """The commit of the code measured (``-dirty``: with uncommitted edits, other than the
    results and the README table that the benchmark writes itself: with ``--add`` each size
    measured leaves them changed for the next)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True,
                              text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    edited = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                 f":(exclude){RESULTS.relative_to(REPO)}", f":(exclude){README.name}")
    return f"{commit}-dirty" if edited else commit


def stage_names(project: Path) -> list[str]:
    """The stages before training, in pipeline order."""
    listed = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"],
                            cwd=project, check=True, capture_output=True, text=True).stdout
    names = listed.split()
    return [n for group in GROUPS for n in names
            if n == group or n.startswith(f"{group}@")]


def venv_env() -> dict:
    """This environment with this interpreter's folder first on PATH: the stages' commands
    call ``python``, which must be the one that runs the benchmark (the venv's), whatever
    the caller's shell has."""
    return {**os.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}


STEP_LINE = re.compile(r"^\w+: (?P<step>.+?) in (?P<seconds>[\d.]+) s(?:, (?P<rest>.*))?$")
PEAK_RSS = re.compile(r"peak RSS ([\d,]+) MiB")


def steps(stderr: str) -> dict:
    """The steps a stage printed as ``stage: STEP in S s, COUNT NAME, ..., peak RSS N MiB``
    (curate's ``Phases``): per step its seconds, counts and the process's peak RSS so far, so
    a curve that bends can be traced to one step."""
    found = {}
    for line in stderr.splitlines():
        match = STEP_LINE.match(line.strip())
        if match:
            counts = {}
            for part in (match["rest"] or "").split(", "):
                if peak := PEAK_RSS.fullmatch(part):
                    counts["peak_rss_mib"] = int(peak[1].replace(",", ""))
                    continue
                number, _, name = part.partition(" ")
                if name and number.replace(",", "").isdigit():
                    counts[name] = int(number.replace(",", ""))
            found[match["step"]] = {"wall_s": float(match["seconds"]), **counts}
    return found


def run_stage(project: Path, stage: str, checkpoint=None) -> dict:
    """``dvc repro --single-item stage`` with its wall time, its processes' rusage and the
    steps it printed. Its stderr goes to a file: a pipe read only at the end would fill and
    stall a long crawl's progress lines. ``checkpoint``: called every ``CHECKPOINT_S`` with
    the figures so far (`timed`)."""
    stops: list[tuple[int, float]] = []
    with tempfile.TemporaryFile("w+b") as stderr:
        row, code = timed([sys.executable, "-m", "dvc", "repro", "--single-item", stage],
                          project, stderr, checkpoint, stops)
        stderr.seek(0)
        error = stderr.read().decode(errors="replace")
    if code:
        raise RuntimeError(f"dvc repro {stage} failed in {project}:\n{error[-3000:]}")
    printed = without_stops(steps(error), stops)
    return {**row, "steps": printed} if printed else row


def without_stops(printed: dict, stops: list[tuple[int, float]]) -> dict:
    """``printed`` (`steps`) less the time the stage was stopped in each step: a step's own
    clock runs on through a ``kill -STOP``. ``stops``: (index of the step that was running,
    seconds), as `timed` finds them."""
    names = list(printed)
    for index, seconds in stops:
        if index < len(names):
            step = printed[names[index]]
            step["wall_s"] = round(max(0.0, step["wall_s"] - seconds), 2)
    return printed


class StepLines:
    """The step lines a running stage has printed to its stderr file so far, read as they
    come (only new bytes each time; a line still being written waits). ``os.pread`` leaves
    the file offset, which the stage's own writes share, where it is."""

    def __init__(self, stderr):
        self.stderr, self.read, self.lines = stderr, 0, []

    def update(self) -> list[str]:
        fd = self.stderr.fileno()
        size = os.fstat(fd).st_size
        if size > self.read:
            text = os.pread(fd, size - self.read, self.read)
            # A progress bar ends its lines with \r: those count as ends too.
            whole = text[:max(text.rfind(b"\n"), text.rfind(b"\r")) + 1]
            self.read += len(whole)
            lines = (line.strip() for line in whole.decode(errors="replace").splitlines())
            self.lines += [line for line in lines if STEP_LINE.match(line)]
        return self.lines


def timed(command: list[str], cwd: Path, stderr, checkpoint=None,
          stops: list | None = None) -> tuple[dict, int]:
    """Run ``command``: its wall time, CPU time and peak RSS (``wall_s``, ``cpu_s``,
    ``peak_rss_mib``) and its exit code. ``checkpoint``: called every ``CHECKPOINT_S`` with
    the figures so far, read from /proc (`tree_usage`), so that a run killed with the
    benchmark (a session's end) leaves what it had spent. Time while the benchmark's process
    group was stopped (``kill -STOP``, to run something else alone on a small machine) is not
    the command's: a poll that wakes over ``STOPPED_AFTER_S`` late counts as stopped.
    ``stops`` (a list) gets each stop as (the step it fell in, seconds) for `without_stops`:
    the step is the one after the step lines printed by then. The figures so far given to
    ``checkpoint`` include the steps finished (``steps``, less their stops)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr,
                            env=venv_env())
    peak, saved, tick, stopped = 0.0, started, started, 0.0
    printed, stops = StepLines(stderr), [] if stops is None else stops
    while True:
        # wait4's rusage covers the process and every descendant it waited for (Linux).
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        now = time.perf_counter()
        if now - tick > STOPPED_AFTER_S:  # the benchmark and its stage were stopped
            stopped += now - tick  # (SIGSTOP to run something alone; a suspended machine)
            stops.append((len(printed.update()), now - tick))
        tick = now
        if pid:
            break
        if checkpoint is not None and now - saved >= CHECKPOINT_S:
            cpu, rss = tree_usage(proc.pid)
            peak = max(peak, rss)
            so_far = {"wall_s": round(now - started - stopped, 2),
                      "cpu_s": round(cpu, 2), "peak_rss_mib": round(peak, 1)}
            finished = without_stops(steps("\n".join(printed.update())), stops)
            checkpoint({**so_far, "steps": finished} if finished else so_far)
            saved = now
        time.sleep(POLL_S)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": round(time.perf_counter() - started - stopped, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}, proc.returncode


def tree_usage(pid: int) -> tuple[float, float]:
    """CPU seconds so far of a running process and all its descendants (a reaped child's
    through its parent's cumulative times), and the largest peak RSS of those alive, MiB."""
    import psutil  # DVC's dependency

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    cpu, peak = 0.0, 0.0
    for proc in tree:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue  # ended between the listing and the reading
        cpu += times.user + times.system + times.children_user + times.children_system
        peak = max(peak, peak_rss_mib(proc.pid))
    return cpu, peak


def added(before: dict | None, row: dict) -> dict:
    """A stage's figures over its attempts: ``before`` (the attempts stopped part way, or
    None) and ``row`` (this one): times add up, the peak is the larger, ``attempts`` counts.
    So do the steps' seconds (their counts are this attempt's): a resumed curate's step
    that reads its stored verdicts is quick, and the verdicts' cost is in the attempt that
    made them. The time a stopped attempt spent outside its finished steps (the step it was
    killed in, mostly) goes to the step that came next in order, once this attempt has
    finished it; an attempt stopped before it finished a step keeps that time in the
    stage's total only. ``redone_s`` is the part of the time that one run without a stop
    would not have spent: for each step finished by more than one attempt, the smaller of
    the work and the later attempt's time (the later one read the kept results, or redid a
    step that keeps none, as curate's window search)."""
    if before is None:
        return row
    out = {**row, "wall_s": round(before["wall_s"] + row["wall_s"], 2),
           "cpu_s": round(before["cpu_s"] + row["cpu_s"], 2),
           "peak_rss_mib": max(before["peak_rss_mib"], row["peak_rss_mib"]),
           "attempts": before.get("attempts", 1) + 1}
    earlier, now = before.get("steps", {}), row.get("steps", {})
    redone = before.get("redone_s", 0.0)
    if earlier or now:
        merged = {name: dict(step) for name, step in now.items()}
        for name, step in earlier.items():
            if name in merged:
                # Finished before and again: this attempt read what the earlier one kept
                # (quick) or did the work again (a step that keeps nothing). Either way the
                # smaller time is one that a run without a stop would not have spent.
                work = step["wall_s"] - step.get("redone_s", 0.0)
                again = min(work, merged[name]["wall_s"])
                merged[name]["redone_s"] = round(step.get("redone_s", 0.0) + again, 2)
                redone += again
                merged[name]["wall_s"] = round(merged[name]["wall_s"] + step["wall_s"], 2)
                peaks = [s["peak_rss_mib"] for s in (merged[name], step) if "peak_rss_mib" in s]
                if peaks:
                    merged[name]["peak_rss_mib"] = max(peaks)
            else:
                merged[name] = dict(step)
        unlogged = before["wall_s"] - sum(step["wall_s"] for step in earlier.values())
        names = list(now)
        # Without steps (killed before its first ended, or saved by an older benchmark)
        # where the lost time went is not known: it stays in the stage's total alone.
        if earlier and len(earlier) < len(names) and unlogged > 0:
            step = merged[names[len(earlier)]]
            step["wall_s"] = round(step["wall_s"] + unlogged, 2)
        out["steps"] = merged
    if redone:
        out["redone_s"] = round(redone, 2)
    return out


def output_mib(project: Path, stage: str) -> float:
    files = [p for target in output_paths(project, stage)
             for p in ([target] if target.is_file() else target.rglob("*")) if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 2)


def output_paths(project: Path, stage: str) -> list[Path]:
    """The stage's outputs: its main one, and curate's kept pair verdicts."""
    paths = yaml.safe_load((project / "params.yaml").read_text())["paths"]
    group, _, source = stage.partition("@")
    main = {"demo": Path(paths["demo"]), "crawl": Path(paths["crawl"]) / source,
            "hash": Path(paths["hashes"]) / f"{source}.parquet",
            "curate": Path(paths["curate"]), "pack": Path(paths["pack"])}[group]
    kept = [Path(paths["curate_verdicts"])] if group == "curate" else []
    return [project / p for p in (main, *kept)]


def measure(artworks: int, root: Path, keep: bool = False) -> dict:
    """Every stage at ``artworks``. With ``keep``, the project stays in ``root`` and each
    stage's figures are saved as it ends (``n{artworks}.stages.json``), so a run stopped part
    way (a session's end) goes on from the stage it stopped in. That stage starts over,
    except a crawl or curate (``RESUMABLE``): those go on with the work the killed run kept
    (the crawl's journal, curate's verdicts), as a user's would, and the figures of their
    attempts add up (``attempts``; each attempt's time until its last checkpoint, so a stop
    loses up to ``CHECKPOINT_S`` from the record while the re-start's reading is counted)."""
    project, saved = root / f"n{artworks}", root / f"n{artworks}.stages.json"
    state = json.loads(saved.read_text()) if keep and saved.is_file() else {}
    if "row" in state:  # measured to the end before
        return state["row"]
    if not state:
        shutil.rmtree(project, ignore_errors=True)
        scaled_project(project, artworks)
        state = {"code": commit_of(REPO), "stages": {}}  # what the project copy ran
    stages = state["stages"]
    # Stages stopped part way: their figures until the last checkpoint.
    stopped = state.setdefault("stopped", {})
    for stage in stage_names(project):
        if stage in stages:
            continue
        resumable = stage.partition("@")[0] in RESUMABLE
        before = stopped.get(stage) if resumable else None
        if before is None:  # timed from nothing: its outputs of a stopped run go
            for target in output_paths(project, stage):
                if target.is_dir():
                    shutil.rmtree(target)
                target.unlink(missing_ok=True)

        def checkpoint(so_far: dict, stage=stage, before=before) -> None:
            stopped[stage] = added(before, so_far)
            write_text(saved, json.dumps(state, indent=1) + "\n")

        # Only a stage that goes on needs its figures so far: the others start over.
        row = run_stage(project, stage, checkpoint if keep and resumable else None)
        stages[stage] = {**added(before, row), "disk_mib": output_mib(project, stage)}
        stopped.pop(stage, None)
        print(f"  {artworks} artworks: {stage} {stages[stage]}", flush=True)
        if keep:
            write_text(saved, json.dumps(state, indent=1) + "\n")
    curate = json.loads((project / "metrics" / "curate.json").read_text())
    row = {"artworks": artworks, "records": curate["records"], "stored": curate["stored"],
           "curated": curate["curated"], "code": state["code"], "stages": stages, "groups": {}}
    for group in GROUPS:
        row["groups"][group] = group_figures(
            [v for k, v in stages.items() if k.partition("@")[0] == group])
    if keep:
        state["row"] = row
        write_text(saved, json.dumps(state, indent=1) + "\n")
    shutil.rmtree(project, ignore_errors=True)
    return row


def group_figures(members: list[dict]) -> dict:
    """A group's figures from its stages': times, redone time and disk summed, the largest
    peak."""
    return {"wall_s": round(sum(m["wall_s"] for m in members), 2),
            "cpu_s": round(sum(m["cpu_s"] for m in members), 2),
            "peak_rss_mib": max(m["peak_rss_mib"] for m in members),
            "disk_mib": round(sum(m["disk_mib"] for m in members), 2),
            "redone_s": round(sum(m.get("redone_s", 0.0) for m in members), 2)}


def progress_row(artworks: int, root: Path) -> dict | None:
    """The figures so far of a size that ``measure`` keeps in ``root`` and that has not ended
    (a session ended inside it): each group whose every stage has ended, at the records its
    crawls listed, marked ``"complete": False``. None until the crawls have ended (the records
    are not known before); a size measured to the end gives its row. Reads the project's
    stages and crawl records only, so it may run while the size goes on."""
    saved = root / f"n{artworks}.stages.json"
    if not saved.is_file():
        return None
    state = json.loads(saved.read_text())
    if "row" in state:
        return state["row"]
    project = root / f"n{artworks}"
    names = stage_names(project)
    done = state["stages"]
    groups = {}
    for group in GROUPS:
        members = [n for n in names if n.partition("@")[0] == group]
        if members and all(n in done for n in members):
            groups[group] = group_figures([done[n] for n in members])
    if "crawl" not in groups:
        return None
    stores = [output_paths(project, n)[0] for n in names if n.partition("@")[0] == "crawl"]
    records = sum(pq.ParquetFile(store / "records.parquet").metadata.num_rows
                  for store in stores)
    return {"artworks": artworks, "records": records, "complete": False, "code": state["code"],
            "stages": {n: done[n] for n in names if n in done}, "groups": groups}


# ----------------------------------------------------------------------------------------------
# Curves, extrapolation, the table and the plot


def can_extrapolate(rows: list[dict]) -> bool:
    return len(rows) >= MIN_RUNS_TO_EXTRAPOLATE and \
        rows[-1]["records"] >= MIN_RECORDS_TO_EXTRAPOLATE


def one_run(row: dict, group: str, cost: str) -> float:
    """A group's cost in one run without stops: a resumed stage's wall time less what its
    later attempts did again (``redone_s``, see ``added``)."""
    figures = row["groups"][group]
    if cost == "wall_s":
        return round(figures["wall_s"] - figures.get("redone_s", 0.0), 2)
    return figures[cost]


def fitted_runs(rows: list[dict]) -> list[dict]:
    """The runs an exponent is fitted on (``rows`` by records): those within ``FIT_WITHIN``
    times the largest's records, the two largest at least."""
    near = [r for r in rows if r["records"] * FIT_WITHIN >= rows[-1]["records"]]
    return near if len(near) >= 2 else rows[-2:]


def fitted(rows: list[dict]) -> dict:
    """Per group and cost: the exponent against records, and the cost at each AT_RECORDS
    (measured ones only, unless ``can_extrapolate``), each of one run without stops."""
    out = {}
    for group in GROUPS:
        # A size still under way (`progress_row`) has the groups it has ended.
        have = [r for r in rows if group in r["groups"]]
        out[group] = {cost: {"exponent": None, "at_records": {}} for cost in COSTS}
        if not have:
            continue
        largest, extrapolate = have[-1], can_extrapolate(have)
        for cost in COSTS:
            points = [{"files": r["records"], cost: one_run(r, group, cost)}
                      for r in fitted_runs(have)]
            slope = exponent(points, cost)
            at = {}
            for records in AT_RECORDS:
                near = [r for r in have
                        if abs(r["records"] - records) <= MEASURED_WITHIN * records]
                if near:
                    at[str(records)] = {"value": one_run(near[0], group, cost),
                                        "measured": True}
                elif slope is not None and extrapolate:
                    value = one_run(largest, group, cost) * \
                        (records / largest["records"]) ** slope
                    at[str(records)] = {"value": round(value, 1), "measured": False}
            out[group][cost] = {"exponent": slope, "at_records": at}
    return out


def _format(cost: str, value: float) -> str:
    if cost in ("wall_s", "cpu_s"):
        minutes = value / 60
        return f"{value / 3600:.1f} h" if value >= 5400 else \
            f"{minutes:.{0 if minutes >= 10 else 1}f} min" if value >= 90 else f"{value:.0f} s"
    return f"{value / 1024:.1f} GiB" if value >= 1024 else f"{value:.0f} MiB"


def table(result: dict) -> str:
    """The README's table: each stage's wall time, peak RSS and disk per column of records;
    extrapolated values in italics."""
    heads = " | ".join(f"{n:,} records" for n in AT_RECORDS)
    lines = [f"| stage | cost | exponent | {heads} |",
             "| --- | --- | --- |" + " --- |" * len(AT_RECORDS)]
    for group in GROUPS:
        for cost, label in (("wall_s", "wall time"), ("peak_rss_mib", "peak RSS"),
                            ("disk_mib", "disk")):
            fit = result["fit"][group][cost]
            cells = []
            for records in AT_RECORDS:
                entry = fit["at_records"].get(str(records))
                if entry is None:
                    cells.append("")
                else:
                    text = _format(cost, entry["value"])
                    cells.append(text if entry["measured"] else f"*{text}*")
            slope = "" if fit["exponent"] is None else f"{fit['exponent']:.2f}"
            lines.append(f"| `{group}` | {label} | {slope} | " + " | ".join(cells) + " |")
    sizes = ", ".join(
        f"{r['artworks']:,} artworks ({r['records']:,} records, {r['curated']:,} curated)"
        if r.get("complete", True) else
        f"{r['artworks']:,} artworks ({r['records']:,} records; under way: "
        f"{', '.join(r['groups'])} so far)" for r in result["runs"])
    lines.append("")
    fit_on = fitted_runs(result["runs"])
    lines.append(f"Measured on {result['machine']} at {sizes}; *italics*: extrapolated along the "
                 "fitted exponent (cost proportional to records^exponent) from the largest run; "
                 f"the exponents are fitted on the {len(fit_on)} runs from "
                 f"{fit_on[0]['records']:,} records up.")
    return "\n".join(lines) + "\n"


COLOURS = {"demo": (120, 120, 120), "crawl": (70, 110, 160), "hash": (200, 130, 40),
           "curate": (60, 150, 80), "pack": (170, 60, 60)}


def plot(result: dict, path: Path) -> None:
    """Four log-log panels (wall, CPU, peak RSS, disk against records), one line per stage,
    the measured points joined and the extrapolation to 1M records dashed."""
    panel_w, panel_h, margin = 420, 300, 56
    img = Image.new("RGB", (2 * panel_w, 2 * panel_h + 30), "white")
    draw = ImageDraw.Draw(img)
    draw.text((10, 8), "Marcus: each stage's cost against crawled records (log-log; dashed: "
              "extrapolated)", fill="black")
    x_min, x_max = math.log10(min(r["records"] for r in result["runs"])), math.log10(1e6)
    for index, cost in enumerate(COSTS):
        ox, oy = (index % 2) * panel_w, 30 + (index // 2) * panel_h
        series = {}
        for group in GROUPS:
            measured = [(r["records"], one_run(r, group, cost)) for r in result["runs"]
                        if group in r["groups"]]
            end = result["fit"][group][cost]["at_records"].get(str(AT_RECORDS[-1]))
            series[group] = (measured, None if end is None else (AT_RECORDS[-1], end["value"]))
        values = [v for m, e in series.values() for _, v in m + ([e] if e else []) if v > 0]
        if not values:
            continue
        y_min, y_max = math.log10(min(values)), math.log10(max(values))
        y_span = (y_max - y_min) or 1.0
        left, top = ox + margin, oy + 24
        width, height = panel_w - margin - 16, panel_h - 24 - 40

        def at(x, y, left=left, top=top, width=width, height=height, y_min=y_min,
               y_span=y_span):
            return (left + width * (math.log10(x) - x_min) / (x_max - x_min),
                    top + height * (1 - (math.log10(max(y, 1e-9)) - y_min) / y_span))

        draw.rectangle([left, top, left + width, top + height], outline=(170, 170, 170))
        draw.text((ox + 10, oy + 6), cost, fill="black")
        draw.text((ox + 4, top - 4), f"{10 ** y_max:.3g}", fill="black")
        draw.text((ox + 4, top + height - 8), f"{10 ** y_min:.3g}", fill="black")
        draw.text((left, top + height + 4), f"{10 ** x_min:,.0f}", fill="black")
        draw.text((left + width - 110, top + height + 4), "1,000,000 records", fill="black")
        for row, group in enumerate(GROUPS):
            measured, end = series[group]
            colour = COLOURS[group]
            points = [at(x, y) for x, y in measured if y > 0]
            if len(points) > 1:
                draw.line(points, fill=colour, width=2)
            for px, py in points:
                draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
            if end and points and end[1] > 0:
                _dashed(draw, points[-1], at(*end), colour)
            draw.text((left + 6, top + 6 + 12 * row), group, fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")


def _dashed(draw: ImageDraw.ImageDraw, start, end, colour, dash: float = 6) -> None:
    length = math.dist(start, end)
    steps = max(1, int(length // dash))
    for i in range(0, steps, 2):
        a, b = i / steps, min(1, (i + 1) / steps)
        draw.line([(start[0] + (end[0] - start[0]) * a, start[1] + (end[1] - start[1]) * a),
                   (start[0] + (end[0] - start[0]) * b, start[1] + (end[1] - start[1]) * b)],
                  fill=colour, width=1)


def update_readme(markdown: str, readme: Path = README) -> None:
    """Put the table between the README's markers (left alone when the markers are absent)."""
    text = readme.read_text(encoding="utf-8")
    begin, end = TABLE_MARKERS
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        readme.write_text(pattern.sub(lambda _: f"{begin}\n{markdown}{end}", text),
                          encoding="utf-8")


def run(quick: bool = False, sizes: tuple[int, ...] | None = None,
        workdir: str | None = None, add: bool = False, progress: bool = False) -> dict:
    """``workdir``: keep each size's project and figures there, so that a run stopped part
    way goes on from the stage it stopped in (see ``measure``); ``add``: the sizes measured
    join the runs of the committed results (benchmarks/results/scale.json), replacing a run
    of the same size, instead of standing alone. ``progress`` (with ``workdir``): measure
    nothing, add the sizes' figures so far (`progress_row`), so that a size longer than a
    session is on record stage group by stage group. The fit takes the runs as they are, at
    the code each was measured at (its ``code``): after a change to a stage, measure them
    again."""
    sizes = sizes or ((300, 1_000) if quick else (1_000, 3_000, 10_000))
    if progress:
        if not workdir:
            raise UserError("scale --progress reads the sizes kept in a --workdir")
        runs = [row for n in sizes if (row := progress_row(n, Path(workdir))) is not None]
        add = True
    elif workdir:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        runs = [measure(n, Path(workdir), keep=True) for n in sizes]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            runs = [measure(n, Path(tmp)) for n in sizes]
    if add:
        earlier = json.loads((RESULTS / "scale.json").read_text())["runs"]
        runs += [r for r in earlier if r["artworks"] not in sizes]
    runs.sort(key=lambda r: r["records"])
    result = {"scaled_demo": SCALED_DEMO, "cache_type": CACHE_TYPE, "runs": runs,
              "machine": f"{os.cpu_count()} cores", "fit": {}}
    result["fit"] = fitted(runs)
    suffix = "-quick" if quick else ""
    plot(result, RESULTS / f"scale{suffix}.png")
    markdown = table(result)
    (RESULTS / f"scale{suffix}.md").write_text(markdown, encoding="utf-8")
    result["extrapolated"] = can_extrapolate(runs)
    if not quick and result["extrapolated"]:
        update_readme(markdown)
    return result
