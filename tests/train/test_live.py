"""train/live.py: the per-tick log of the training stages."""

from __future__ import annotations

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
