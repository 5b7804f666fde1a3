"""benchmarks/gpu_check.py, the one command a lent GPU runs: proven on the CPU with the tiny
presets, every part through the project's own commands."""

from __future__ import annotations

import pytest
import torch

from benchmarks import gpu_check


@pytest.mark.slow
def test_every_part_of_the_gpu_check_measures_something_on_the_cpu_with_the_tiny_presets(
        tmp_path):
    result = gpu_check.run(device="cpu", tiny=True, workdir=str(tmp_path))
    assert result["device"] == "cpu" and result["tiny"]
    assert all("error" not in part for part in result["pack"].values())
    (gan,) = result["train_gan"].values()
    assert "error" not in gan, gan
    assert [t["tick"] for t in gan["ticks"]] == [1, 2, 3]
    assert gan["s_per_kimg"] > 0 and gan["peak_mib"] > 0
    upscaler = result["train_upscaler"]
    assert "error" not in upscaler, upscaler
    assert upscaler["s_per_step"] > 0 and upscaler["crops_per_s"] > 0
    render = result["render"]
    assert "error" not in render and "skipped" not in render, render
    assert render["print_px"] == 100 and render["peak_mib"] > 0
    assert list(tmp_path.iterdir()) == []  # its projects are gone


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here: it would run")
def test_the_gpu_check_stops_at_once_with_a_message_where_there_is_no_gpu():
    with pytest.raises(SystemExit, match="sees no CUDA device here.*--device cpu --tiny"):
        gpu_check.run()


def test_a_part_that_outruns_its_budget_is_stopped_and_recorded_with_its_last_lines():
    out = gpu_check.measured(["-c", "import time; print('started', flush=True); "
                                    "time.sleep(30)"], budget_s=2)
    assert out["error"] == "stopped after its budget of 2 s" and out["seconds"] < 20
    assert out["last_lines"] == ["started"]


def test_a_part_that_fails_is_recorded_with_its_exit_status():
    out = gpu_check.measured(["-c", "raise SystemExit(3)"], budget_s=60)
    assert out["error"] == "exit status 3"


def test_the_tick_lines_of_both_training_loops_are_read_with_their_memory():
    out = {"lines": [
        "dvclive is not installed: no metrics or sample grids in /tmp/live",
        "tick 1    kimg 1.02     s/kimg 61.6    D 1.4391  G 5.1683  augment 0.000 data 0% "
        "mem 4628 MiB",
        "tick 2    step 40      s/tick 1.1    consistency 0.0006  d 1.3865  mem 4778 MiB"]}
    assert gpu_check.tick_lines(dict(out), gpu_check.GAN_TICK, "s_per_kimg") == [
        (1, 61.6, 4628)]
    upscaler = dict(out)
    assert gpu_check.tick_lines(upscaler, gpu_check.UPSCALER_TICK, "s_per_tick") == [
        (2, 1.1, 4778)]
    assert upscaler == {"ticks": [{"tick": 2, "s_per_tick": 1.1, "mem_mib": 4778}]}
