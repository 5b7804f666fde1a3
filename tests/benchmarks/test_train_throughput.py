"""benchmarks/train_throughput.py: the step it times is train_gan's, and the side-by-side with
StyleGAN2-ADA says what it measured or says that it did not."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import train_throughput

SMALL = dict(train_throughput.AUTO32, resolution=8, batch=4, z_dim=16, w_dim=16,
             channel_base=64, channel_max=16)


def _grads(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in module.parameters() if p.grad is not None]


def test_the_timed_generator_step_computes_the_gradient_of_train_gans_step_with_path_length():
    # The benchmark calls the path length apart to time it; the sum must be train_gan's step.
    whole, split = (train_throughput.Trainer(SMALL, seed=3) for _ in range(2))
    torch.manual_seed(7)
    z = torch.randn(SMALL["batch"], SMALL["z_dim"])
    whole.loss.generator_step(z, None, do_pl=True)
    torch.manual_seed(7)
    z = torch.randn(SMALL["batch"], SMALL["z_dim"])
    split.loss.generator_step(z, None)
    split.loss._path_length(z, None, gain=1.0)
    for a, b in zip(_grads(whole.G), _grads(split.G), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_timed_cycle_of_16_steps_spends_time_in_every_phase_and_changes_both_networks():
    trainer = train_throughput.Trainer(SMALL)
    before = [p.detach().clone() for p in (*trainer.G.parameters(), *trainer.D.parameters())]
    clock = train_throughput.PhaseClock()
    assert trainer.images_per_second(16, clock) > 0
    assert set(clock.seconds) == set(train_throughput.PHASES)
    assert all(seconds > 0 for seconds in clock.seconds.values()), clock.seconds
    after = [*trainer.G.parameters(), *trainer.D.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True)
               if a.numel() > 1)


def test_a_folder_that_is_not_a_stylegan2_ada_checkout_stops_with_a_message_naming_it(tmp_path):
    with pytest.raises(SystemExit, match=f"{tmp_path}.*not a checkout of "
                                         "NVlabs/stylegan2-ada-pytorch"):
        train_throughput.ReferenceTrainer(tmp_path, SMALL)


def test_without_a_checkout_the_last_side_by_side_is_carried_over_with_its_date(tmp_path):
    path = tmp_path / "train_throughput.json"
    assert train_throughput._carried_side_by_side(path) is None          # no file
    path.write_text(json.dumps({"stylegan2_ada": "not measured: ...",
                                "_machine": {"when": "2026-12-01 10:00"}}))
    assert train_throughput._carried_side_by_side(path) is None          # never measured
    measured = {"ours_over_stylegan2_ada": 1.4, "rounds": 12}
    path.write_text(json.dumps({"stylegan2_ada": measured,
                                "_machine": {"when": "2026-12-01 10:00"}}))
    carried = train_throughput._carried_side_by_side(path)
    assert carried == measured | {"carried_from": "2026-12-01 10:00"}
    # Carried again later: the date stays the measurement's, not the later run's.
    path.write_text(json.dumps({"stylegan2_ada": carried,
                                "_machine": {"when": "2026-12-09 10:00"}}))
    assert train_throughput._carried_side_by_side(path)["carried_from"] == "2026-12-01 10:00"


def test_the_convolutions_share_of_a_step_lies_in_0_to_1_and_bounds_the_side_by_side_ratio():
    split = train_throughput._measure_where_time_goes(
        steps=16, side_by_side={"ours_over_stylegan2_ada": 1.3}, config=SMALL, conv_repeats=1)
    assert 0 < split["conv3x3_full_width_share"] <= split["conv_share"] < 1
    assert split["ceiling_over_stylegan2_ada"] == round(1.3 / split["conv_share"], 2)
    assert all(v > 0 for v in split["conv3x3_32px"].values())
    assert train_throughput._ceiling("not measured: ...", split["conv_share"]) == {}
