"""train/live.py: the per-tick log of the training stages."""

from __future__ import annotations

import json
import sys

from train.live import NoLive, open_live


def test_without_dvclive_a_training_run_logs_nothing_and_says_so_once(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setitem(sys.modules, "dvclive", None)  # as on a bare CUDA machine
    live = open_live(tmp_path / "live", tick=0, resumed=False)
    assert isinstance(live, NoLive)
    live.log_metric("loss/G", 1.0)
    live.log_image("samples.png", None)
    live.next_step()
    live.end()
    assert "dvclive is not installed" in capsys.readouterr().err
    assert not (tmp_path / "live").exists()


def test_with_dvclive_the_log_is_dvclive_s(tmp_path):
    live = open_live(tmp_path / "live", tick=0, resumed=False)
    assert not isinstance(live, NoLive)
    live.log_metric("kimg", 0.5)
    live.next_step()
    live.end()
    assert (tmp_path / "live" / "metrics.json").is_file()


def test_a_log_a_kill_cut_short_is_resumed_from_the_checkpoint_s_tick(tmp_path):
    """dvclive rewrites its summary in place and appends rows: a kill can leave the summary
    empty and the last row half written. The resumed run drops both and logs on."""
    live = open_live(tmp_path / "live", tick=0, resumed=False)
    for tick in range(3):
        live.log_metric("loss/l1", 0.5 - tick / 10)
        live.next_step()
    live.end()
    (tmp_path / "live" / "metrics.json").write_text("")                # killed mid-rewrite
    tsv = next((tmp_path / "live").glob("plots/metrics/**/l1.tsv"))
    tsv.write_text(tsv.read_text() + "17331")                           # and mid-row

    live = open_live(tmp_path / "live", tick=2, resumed=True)           # checkpoint: tick 2
    live.log_metric("loss/l1", 0.25)
    live.next_step()
    live.end()
    rows = [line.split("\t") for line in tsv.read_text().splitlines()]
    header, steps = rows[0], [int(r[rows[0].index("step")]) for r in rows[1:]]
    assert steps == [0, 1, 2] and rows[-1][header.index("l1")] == "0.25"
    assert json.loads((tmp_path / "live" / "metrics.json").read_text())["loss"]["l1"] == 0.25
