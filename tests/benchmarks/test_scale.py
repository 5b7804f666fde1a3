"""benchmarks/scale.py's arithmetic: exponents fitted on records, costs at the table's columns
measured where a run had that many records and extrapolated (and marked so) elsewhere, and the
README's table replaced between its markers only.
"""

from __future__ import annotations

from benchmarks.scale import GROUPS, TABLE_MARKERS, fitted, steps, table, update_readme


def runs(records: list[int], cost_of) -> list[dict]:
    return [{"artworks": r // 2, "records": r, "stored": r, "curated": r // 3,
             "groups": {g: {"wall_s": cost_of(r), "cpu_s": cost_of(r), "peak_rss_mib": 100.0,
                            "disk_mib": r / 100} for g in GROUPS}} for r in records]


def test_costs_are_measured_where_run_and_extrapolated_along_the_exponent_elsewhere():
    fit = fitted(runs([10_000, 20_000, 40_000], lambda r: (r / 1000) ** 2))   # quadratic
    wall = fit["curate"]["wall_s"]
    assert wall["exponent"] == 2.0
    assert wall["at_records"]["10000"] == {"value": 100.0, "measured": True}
    assert wall["at_records"]["100000"] == {"value": 10_000.0, "measured": False}
    assert fit["pack"]["peak_rss_mib"]["exponent"] == 0.0                # flat memory
    assert fit["pack"]["disk_mib"]["at_records"]["1000000"]["value"] == 10_000.0


def test_the_table_marks_extrapolations_and_the_readme_keeps_the_rest(tmp_path):
    result = {"runs": runs([3_000, 10_000, 30_000], lambda r: r / 100), "machine": "2 cores"}
    result["fit"] = fitted(result["runs"])
    markdown = table(result)
    assert "| `curate` | wall time | 1.00 | 1.7 min | *17 min* | *50 min* | *2.8 h* |" in markdown
    readme = tmp_path / "README.md"
    begin, end = TABLE_MARKERS
    readme.write_text(f"before\n{begin}\nold\n{end}\nafter\n")
    update_readme(markdown, readme)
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert markdown in text
    untouched = tmp_path / "OTHER.md"
    untouched.write_text("no markers\n")
    update_readme(markdown, untouched)
    assert untouched.read_text() == "no markers\n"


def test_small_runs_give_exponents_but_no_extrapolation():
    small = fitted(runs([1_000, 3_000, 5_000], lambda r: r / 100))       # under 10k records
    assert small["crawl"]["wall_s"]["exponent"] == 1.0
    assert small["crawl"]["wall_s"]["at_records"] == {}
    two = fitted(runs([10_000, 30_000], lambda r: r / 100))              # two runs only
    assert list(two["crawl"]["wall_s"]["at_records"]) == ["10000"]


def test_the_steps_a_stage_prints_are_kept_with_their_seconds_counts_and_peak_memory():
    printed = ("curate: load records and hashes in 0.4 s, 16,155 records, peak RSS 318 MiB\n"
               "0 items [00:00, ? items/s]\n"
               "curate: dedup: hash candidates verified in 179.5 s, 73,190 pairs, "
               "peak RSS 620 MiB\n"
               "curate: rules in 0.3 s, peak RSS 621 MiB\n")
    assert steps(printed) == {
        "load records and hashes": {"wall_s": 0.4, "records": 16155, "peak_rss_mib": 318},
        "dedup: hash candidates verified": {"wall_s": 179.5, "pairs": 73190,
                                            "peak_rss_mib": 620},
        "rules": {"wall_s": 0.3, "peak_rss_mib": 621}}


def test_a_kept_run_stopped_part_way_goes_on_from_the_stage_it_stopped_in(tmp_path,
                                                                           monkeypatch):
    import json

    import pytest

    from benchmarks import scale

    ran = []

    def stage_standing_in(project, stage, checkpoint=None):  # each stage's dvc repro: minutes
        kept = all(t.exists() for t in scale.output_paths(project, stage))
        if stage != "curate":  # curate goes on from its verdicts; the others start over
            for target in scale.output_paths(project, stage):
                assert not target.exists(), f"{stage} starts from its output of a stopped run"
        ran.append(stage)
        for target in scale.output_paths(project, stage):  # curate's: manifests and verdicts
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("out")
        if stage in ("hash@met", "curate") and ran.count(stage) == 1:
            assert (checkpoint is None) == (stage == "hash@met")  # only curate goes on
            if checkpoint is not None:
                checkpoint({"wall_s": 0.5, "cpu_s": 0.75, "peak_rss_mib": 30.0})
            raise KeyboardInterrupt  # the session ends inside the stage, its output half made
        if stage == "curate":
            assert kept, "curate goes on from the verdicts its stopped run kept"
            (project / "metrics").mkdir(exist_ok=True)
            (project / "metrics" / "curate.json").write_text(
                json.dumps({"records": 100, "stored": 90, "curated": 40}))
        return {"wall_s": 1.0, "cpu_s": 2.0, "peak_rss_mib": 10.0}

    monkeypatch.setattr(scale, "run_stage", stage_standing_in)
    with pytest.raises(KeyboardInterrupt):
        scale.measure(50, tmp_path, keep=True)
    stopped = len(ran)
    assert ran[-1] == "hash@met" and ran.count("demo") == 1
    with pytest.raises(KeyboardInterrupt):
        scale.measure(50, tmp_path, keep=True)
    assert ran[stopped:stopped + 2] == ["hash@met", "hash@aic"]  # on from where it stopped
    assert ran[-1] == "curate"
    row = scale.measure(50, tmp_path, keep=True)
    assert len(ran) == len(set(ran)) + 2  # each stage once, the two stopped ones twice
    assert set(row["stages"]) == set(ran) and row["records"] == 100
    assert row["groups"]["hash"]["wall_s"] == 9.0  # nine hash stages of 1 s: met started over
    # curate went on: both attempts count, its peak the larger.
    assert row["stages"]["curate"] == {"wall_s": 1.5, "cpu_s": 2.75, "peak_rss_mib": 30.0,
                                       "attempts": 2, "disk_mib": 0.0}
    assert not (tmp_path / "n50").exists()  # the project goes; its figures stay
    calls = len(ran)
    assert scale.measure(50, tmp_path, keep=True) == row and len(ran) == calls  # nothing reruns


def test_a_running_stage_reports_its_time_cpu_and_memory_so_far_children_included(tmp_path,
                                                                                 monkeypatch):
    import sys

    from benchmarks import scale

    monkeypatch.setattr(scale, "CHECKPOINT_S", 0.5)
    # A parent that starts a child burning a second of CPU with 64 MiB held, then waits.
    burn = ("import time; b = bytearray(64 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
            "t = time.process_time()\nwhile time.process_time() - t < 1.5: pass\n"
            "time.sleep(1)")
    # The parent prints a step line first, as curate does when a step ends.
    parent = ("import subprocess, sys; print('stage: setup in 0.2 s, 3 things', file=sys.stderr,"
              f" flush=True); subprocess.run([sys.executable, '-c', {burn!r}])")
    seen = []
    with open(tmp_path / "stderr", "w+b") as stderr:
        row, code = scale.timed([sys.executable, "-c", parent], tmp_path, stderr,
                                checkpoint=seen.append)
    assert code == 0
    assert seen and max(s["cpu_s"] for s in seen) >= 1.0  # the child's, while it ran
    assert max(s["peak_rss_mib"] for s in seen) >= 64
    assert row["cpu_s"] >= 1.5 and row["wall_s"] >= 2.5 and row["peak_rss_mib"] >= 64
    # The steps finished so far travel with the figures, for an attempt stopped part way.
    assert seen[-1]["steps"] == {"setup": {"wall_s": 0.2, "things": 3}}


def test_a_resumed_stages_steps_add_up_over_its_attempts_the_lost_time_in_the_next_step():
    from benchmarks.scale import added

    # The first attempt finished two steps and was killed 38 s into the third.
    before = {"wall_s": 100.0, "cpu_s": 150.0, "peak_rss_mib": 500.0,
              "steps": {"load": {"wall_s": 2.0, "peak_rss_mib": 300},
                        "verify": {"wall_s": 60.0, "pairs": 10, "peak_rss_mib": 500}}}
    # The second read the stored verdicts (a quick verify) and went to the end.
    row = {"wall_s": 50.0, "cpu_s": 80.0, "peak_rss_mib": 450.0,
           "steps": {"load": {"wall_s": 2.0, "peak_rss_mib": 300},
                     "verify": {"wall_s": 3.0, "pairs": 10, "peak_rss_mib": 400},
                     "search": {"wall_s": 40.0, "candidates": 5, "peak_rss_mib": 450},
                     "rules": {"wall_s": 1.0, "peak_rss_mib": 450}}}
    total = added(before, row)
    assert (total["wall_s"], total["cpu_s"], total["peak_rss_mib"], total["attempts"]) == (
        150.0, 230.0, 500.0, 2)
    assert {name: step["wall_s"] for name, step in total["steps"].items()} == {
        "load": 4.0, "verify": 63.0, "search": 78.0, "rules": 1.0}
    assert total["steps"]["verify"] == {"wall_s": 63.0, "pairs": 10, "peak_rss_mib": 500,
                                        "redone_s": 3.0}
    # What one run without the stop would not have spent: load twice, the verdicts read.
    assert total["redone_s"] == 5.0
    # While the second attempt has not finished the killed step, the lost time waits.
    so_far = {"wall_s": 5.0, "cpu_s": 8.0, "peak_rss_mib": 400.0,
              "steps": {name: row["steps"][name] for name in ("load", "verify")}}
    assert sum(s["wall_s"] for s in added(before, so_far)["steps"].values()) == 67.0
    # An attempt stopped before any step ended says nothing of where its time went.
    unknown = {key: before[key] for key in ("wall_s", "cpu_s", "peak_rss_mib")}
    assert added(unknown, row)["steps"] == row["steps"]
    assert "redone_s" not in added(unknown, row)


def test_a_third_attempt_counts_as_redone_only_what_it_did_again_of_the_work():
    from benchmarks.scale import added

    first = {"wall_s": 30.0, "cpu_s": 30.0, "peak_rss_mib": 100.0,
             "steps": {"search": {"wall_s": 20.0}}}
    second = {"wall_s": 25.0, "cpu_s": 25.0, "peak_rss_mib": 100.0,
              "steps": {"search": {"wall_s": 21.0}}}
    third = {"wall_s": 40.0, "cpu_s": 40.0, "peak_rss_mib": 100.0,
             "steps": {"search": {"wall_s": 19.0}, "verify": {"wall_s": 15.0}}}
    total = added(added(first, second), third)
    # The search was done three times: twice more than once.
    assert total["steps"]["search"] == {"wall_s": 60.0, "redone_s": 39.0}
    assert total["redone_s"] == 39.0 and total["attempts"] == 3


def test_the_fit_takes_one_run_without_stops_the_redone_time_off_the_wall_time():
    from benchmarks.scale import GROUPS, fitted

    def row(records, wall_s, redone_s=0.0):
        groups = {g: {"wall_s": wall_s, "cpu_s": wall_s, "peak_rss_mib": 100.0,
                      "disk_mib": records / 100, "redone_s": redone_s} for g in GROUPS}
        return {"records": records, "groups": groups}

    # Linear in truth; the largest run was stopped and redid 500 s of its 1,500 s.
    fit = fitted([row(10_000, 100.0), row(30_000, 300.0), row(100_000, 1500.0, 500.0)])
    assert abs(fit["curate"]["wall_s"]["exponent"] - 1.0) < 0.01
    assert fit["curate"]["wall_s"]["at_records"]["100000"] == {"value": 1000.0,
                                                               "measured": True}
    assert abs(fit["curate"]["cpu_s"]["exponent"] - 1.0) > 0.1  # CPU counts every attempt



def test_time_while_the_benchmark_and_its_stage_are_stopped_is_not_the_stages(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from benchmarks.project_copy import REPO

    # The benchmark times a command of 2 CPU-seconds in a process group of its own; that group
    # is stopped for 6 s part way, as one does to run something else alone on a small machine.
    work = "import time\nwhile time.process_time() < 2: pass"
    bench = ("import json, sys; from benchmarks.scale import timed\n"
             f"row, code = timed([sys.executable, '-c', {work!r}], '.', sys.stderr)\n"
             "print(json.dumps(row))")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", bench], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGSTOP)
    time.sleep(6)
    os.killpg(proc.pid, signal.SIGCONT)
    out, _ = proc.communicate(timeout=60)
    clock = time.perf_counter() - started
    row = json.loads(out)
    assert row["cpu_s"] >= 2.0
    assert 2.0 <= row["wall_s"] <= clock - 5.0  # the 6 s stopped are not the command's


def test_a_step_the_stage_was_stopped_in_loses_the_stopped_time_from_its_seconds(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from benchmarks.project_copy import REPO

    # Like curate's steps: each step line says how long its own clock ran. The group is
    # stopped for 6 s during the second step, whose clock runs on through the stop.
    second = tmp_path / "second-step-started"
    work = ("import pathlib, sys, time\n"
            "for name in ('first', 'second'):\n"
            "    t = time.perf_counter(); cpu = time.process_time()\n"
            f"    if name == 'second': pathlib.Path({str(second)!r}).touch()\n"
            "    while time.process_time() - cpu < 1.5: pass\n"
            "    print(f'stage: {name} in {time.perf_counter() - t:.2f} s', file=sys.stderr,"
            " flush=True)\n")
    bench = ("import json, sys, tempfile; from benchmarks.scale import timed, steps, "
             "without_stops\n"
             "stops = []\n"
             "with tempfile.TemporaryFile('w+b') as err:\n"
             f"    row, code = timed([sys.executable, '-c', {work!r}], '.', err, None, stops)\n"
             "    err.seek(0); printed = steps(err.read().decode())\n"
             "print(json.dumps({'stops': stops, 'raw': {k: v['wall_s'] for k, v in "
             "printed.items()}, 'kept': without_stops(printed, stops)}))")
    proc = subprocess.Popen([sys.executable, "-c", bench], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not second.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGSTOP)
    time.sleep(6)
    os.killpg(proc.pid, signal.SIGCONT)
    out, _ = proc.communicate(timeout=60)
    result = json.loads(out)
    assert [index for index, _ in result["stops"]] == [1]            # in the second step
    assert result["raw"]["second"] >= 6 + 1.5                        # its clock ran on
    assert result["kept"]["second"]["wall_s"] <= result["raw"]["second"] - 5.5
    assert result["kept"]["first"]["wall_s"] == result["raw"]["first"]


def test_every_size_links_its_outputs_into_the_dvc_cache_rather_than_copying_them(tmp_path):
    """One cache type at every size: the disk column counts each output once, and no size's
    wall time holds a copy that the others' do not."""
    import subprocess
    import sys

    from benchmarks import scale

    project = scale.scaled_project(tmp_path / "n50", 50)
    shown = subprocess.run([sys.executable, "-m", "dvc", "config", "cache.type"], cwd=project,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert shown == scale.CACHE_TYPE == "hardlink"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, check=True,
                            capture_output=True, text=True).stdout
    assert status == ""  # the setting is the copy's own (config.local), not a change to commit


def test_the_code_measured_is_dirty_only_for_edits_the_benchmark_did_not_write(tmp_path):
    """With --add each size rewrites the results and the README table before the next size
    copies the project: those are not edits to the code measured; any other file is."""
    import subprocess

    from benchmarks import scale

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    results = tmp_path / scale.RESULTS.relative_to(scale.REPO)
    results.mkdir(parents=True)
    for path in (results / "scale.json", tmp_path / "README.md", tmp_path / "stage.py"):
        path.write_text("first\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "code")
    clean = scale.commit_of(tmp_path)
    assert len(clean) >= 7 and not clean.endswith("-dirty")
    (results / "scale.json").write_text("measured\n")
    (tmp_path / "README.md").write_text("table\n")
    (tmp_path / "untracked.txt").write_text("scratch\n")
    assert scale.commit_of(tmp_path) == clean
    (tmp_path / "stage.py").write_text("edited\n")
    assert scale.commit_of(tmp_path) == f"{clean}-dirty"


def test_a_size_under_way_is_on_record_with_the_stage_groups_it_has_ended(tmp_path,
                                                                          monkeypatch):
    """A size longer than a session: `progress_row` gives the groups whose every stage has
    ended, at the records the crawls listed, and the fit, the table and the plot take each
    group from the runs that have it."""
    import pandas as pd
    import pytest

    from benchmarks import scale

    stop_in = ["crawl@aic"]

    def stage_standing_in(project, stage, checkpoint=None):
        if stage == stop_in[0]:
            raise KeyboardInterrupt  # the session ends inside this stage
        for target in scale.output_paths(project, stage):
            if stage.startswith("crawl@"):  # each crawl lists 7 records
                target.mkdir(parents=True, exist_ok=True)
                pd.DataFrame({"id": range(7)}).to_parquet(target / "records.parquet")
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("out")
        return {"wall_s": 1.0, "cpu_s": 2.0, "peak_rss_mib": 10.0}

    monkeypatch.setattr(scale, "run_stage", stage_standing_in)
    assert scale.progress_row(50, tmp_path) is None  # nothing measured yet
    with pytest.raises(KeyboardInterrupt):
        scale.measure(50, tmp_path, keep=True)
    assert scale.progress_row(50, tmp_path) is None  # the records are not known yet
    stop_in[0] = "hash@nga"
    with pytest.raises(KeyboardInterrupt):
        scale.measure(50, tmp_path, keep=True)
    row = scale.progress_row(50, tmp_path)
    assert row["complete"] is False and row["artworks"] == 50 and row["records"] == 9 * 7
    assert list(row["groups"]) == ["demo", "crawl"]  # hash has three of its nine stages
    assert row["groups"]["crawl"]["wall_s"] == 9.0 and "hash@met" in row["stages"]

    done = runs([3_000, 10_000, 30_000], lambda r: r / 100)
    row = {**row, "records": 100_000}  # as if its crawls had listed 100k records
    result = {"runs": [*done, row], "machine": "2 cores"}
    result["fit"] = fitted(result["runs"])
    assert result["fit"]["crawl"]["wall_s"]["at_records"]["100000"] == {
        "value": 9.0, "measured": True}
    assert result["fit"]["curate"]["wall_s"]["at_records"]["100000"] == {
        "value": 1000.0, "measured": False}  # from the complete runs alone
    markdown = table(result)
    assert "50 artworks (100,000 records; under way: demo, crawl so far)" in markdown
    scale.plot(result, tmp_path / "scale.png")
    assert (tmp_path / "scale.png").stat().st_size > 0


def test_the_exponent_is_fitted_on_the_runs_within_a_decade_of_the_largest():
    # Linear cost plus a fixed start-up that dominates the small runs.
    fit = fitted(runs([1_000, 3_000, 10_000, 30_000, 100_000], lambda r: 100 + r / 10))
    wall = fit["curate"]["wall_s"]
    assert wall["exponent"] == 0.96                          # all five runs would give 0.86
    assert wall["at_records"]["1000000"]["value"] > 0.9 * (100 + 1_000_000 / 10)
    two = fitted(runs([1_000, 100_000], lambda r: r / 100))  # the two largest at least
    assert two["crawl"]["wall_s"]["exponent"] == 1.0
