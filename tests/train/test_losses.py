"""Losses (train/losses.py): R1 against a hand-computed case and brute force, its scaling by the
interval, style mixing, path length state, determinism of whole steps, and short optimisations
that must improve (D separates reals from fakes; G fools a fixed D).

Everything runs tiny networks on 16 px synthetic paintings, in seconds on a CPU.
"""

from __future__ import annotations

import math

import pytest
import torch

from tests.images import painting_tensors
from train.augment import AugmentPipe
from train.losses import StyleGAN2Loss, r1_penalty
from train.networks import Discriminator, Generator


def tiny_nets(seed: int = 0, px: int = 16, mbstd: int = 4) -> tuple[Generator, Discriminator]:
    torch.manual_seed(seed)
    G = Generator(z_dim=16, w_dim=16, img_resolution=px, mapping_layers=2, channel_base=256,
                  channel_max=32)
    D = Discriminator(img_resolution=px, channel_base=256, channel_max=32,
                      mbstd_group_size=mbstd)
    return G, D


def adam(module: torch.nn.Module, lr: float = 0.002) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.0, 0.99), eps=1e-8)


# ---- R1 ----------------------------------------------------------------------------------------


def test_r1_hand_computed_case():
    weights = torch.randn(3, 4, 4)
    images = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (images * weights).sum(dim=[1, 2, 3])[:, None]       # gradient = weights
    torch.testing.assert_close(r1_penalty(logits, images), weights.square().sum())


def test_r1_matches_per_sample_finite_differences():
    """R1 from the autograd of the summed logits == sum over pixels of each sample's central
    differences, squared, averaged over samples (float64; mbstd groups of 1 so samples are
    independent; one colour channel to keep the number of pixels small)."""
    torch.manual_seed(0)
    D = Discriminator(img_resolution=8, img_channels=1, channel_base=128, channel_max=16,
                      mbstd_group_size=1).double()
    images = painting_tensors(2, px=8)[:, :1].double().requires_grad_(True)
    penalty = r1_penalty(D(images), images)
    eps, pixels = 1e-5, images[0].numel()
    brute = 0.0
    with torch.no_grad():
        for i in range(2):
            bumps = torch.eye(pixels, dtype=torch.float64).reshape(pixels, *images.shape[1:])
            plus = D(images[i] + eps * bumps)
            minus = D(images[i] - eps * bumps)
            brute += float(((plus - minus) / (2 * eps)).square().sum())
    assert float(penalty.detach()) == pytest.approx(brute / 2, rel=1e-6)


def test_discriminator_step_reports_r1_and_scales_it_by_the_interval():
    G, D = tiny_nets(mbstd=1)
    real = painting_tensors(4)
    loss = StyleGAN2Loss(G, D, r1_gamma=2.0, style_mixing_prob=0, d_reg_interval=16)
    z = torch.randn(4, 16)

    def grads(do_r1):
        D.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        logs = loss.discriminator_step(real, None, z, None, do_r1=do_r1)
        return logs, [p.grad.clone() for p in D.parameters()]

    logs, with_r1 = grads(True)
    _, without = grads(False)
    x = real.clone().requires_grad_(True)
    expected = r1_penalty(D(x), x)
    assert logs["r1"] == pytest.approx(float(expected.detach()), rel=1e-5)
    D.zero_grad(set_to_none=True)
    (expected * (2.0 / 2 * 16)).backward()
    for a, b, p in zip(with_r1, without, D.parameters(), strict=True):
        r = torch.zeros_like(p) if p.grad is None else p.grad   # e.g. the last bias
        torch.testing.assert_close(a - b, r, rtol=1e-3, atol=1e-5)
    assert logs["real_signs"].shape == (4,)


# ---- generator side: mixing, path length, frozen D ---------------------------------------------


def test_style_mixing():
    G, D = tiny_nets()
    z = torch.randn(4, 16)
    assert torch.equal(StyleGAN2Loss(G, D, style_mixing_prob=0).mapping(z, None),
                       G.mapping(z, None))
    mixed = StyleGAN2Loss(G, D, style_mixing_prob=1).mapping(z, None)
    plain = G.mapping(z, None)
    assert torch.equal(mixed[:, 0], plain[:, 0])
    assert not torch.allclose(mixed[:, -1], plain[:, -1])


def test_generator_step_updates_only_G_and_path_length_state_round_trips():
    G, D = tiny_nets()
    loss = StyleGAN2Loss(G, D, pl_weight=2.0, style_mixing_prob=0.5)
    logs = loss.generator_step(torch.randn(8, 16), None, do_pl=True)
    assert set(logs) == {"G", "pl", "pl_mean"} and logs["pl_mean"] > 0
    assert all(p.grad is not None for p in G.parameters())
    assert all(p.grad is None and p.requires_grad for p in D.parameters())
    assert float(loss.pl_mean) == pytest.approx(logs["pl_mean"])
    other = StyleGAN2Loss(G, D, pl_weight=2.0)
    other.load_state_dict(loss.state_dict())
    assert torch.equal(other.pl_mean, loss.pl_mean)
    assert "pl" not in StyleGAN2Loss(G, D).generator_step(torch.randn(8, 16), None, do_pl=True)


# ---- whole steps: determinism and learning -----------------------------------------------------


def train_steps(steps: int, seed: int = 0) -> list[torch.Tensor]:
    G, D = tiny_nets(seed)
    pipe = AugmentPipe()
    pipe.p.fill_(0.5)
    loss = StyleGAN2Loss(G, D, augment=pipe, r1_gamma=1.0, pl_weight=2.0,
                         g_reg_interval=2, d_reg_interval=2)
    opt_G, opt_D = adam(G), adam(D)
    real = painting_tensors(8)
    for step in range(steps):
        opt_G.zero_grad(set_to_none=True)
        loss.generator_step(torch.randn(8, 16), None, do_pl=step % 2 == 0)
        opt_G.step()
        opt_D.zero_grad(set_to_none=True)
        loss.discriminator_step(real, None, torch.randn(8, 16), None, do_r1=step % 2 == 0)
        opt_D.step()
    return [t.detach().clone() for t in [*G.state_dict().values(), *D.state_dict().values(),
                                         loss.pl_mean]]


def test_training_steps_are_bit_identical_for_the_same_seed():
    a, b = train_steps(3), train_steps(3)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, train_steps(3, seed=1), strict=True))


def d_scores(D, G, real, z) -> tuple[float, float]:
    """D's loss on the reals and on fixed fakes, and the share it classifies right."""
    with torch.no_grad():
        fake = G(z, None, noise_mode="const")
        real_logits, fake_logits = D(real), D(fake)
    loss = float(torch.nn.functional.softplus(-real_logits).mean()
                 + torch.nn.functional.softplus(fake_logits).mean())
    accuracy = float(torch.cat([real_logits > 0, fake_logits < 0]).float().mean())
    return loss, accuracy


def test_discriminator_learns_to_separate_reals_from_fakes():
    G, D = tiny_nets()
    real = painting_tensors(16)
    z_eval = torch.randn(16, 16)
    loss = StyleGAN2Loss(G, D, r1_gamma=0.1, style_mixing_prob=0, d_reg_interval=4)
    opt_D = adam(D)
    before, _ = d_scores(D, G, real, z_eval)
    for step in range(30):
        opt_D.zero_grad(set_to_none=True)
        index = torch.randint(16, [8])
        loss.discriminator_step(real[index], None, torch.randn(8, 16), None,
                                do_r1=step % 4 == 0)
        opt_D.step()
    after, accuracy = d_scores(D, G, real, z_eval)
    assert after < 0.6 * before and accuracy >= 0.85, (before, after, accuracy)


def test_generator_loss_falls_against_a_fixed_discriminator():
    G, D = tiny_nets()
    real = painting_tensors(16)
    loss = StyleGAN2Loss(G, D, r1_gamma=0.1, style_mixing_prob=0.9)
    opt_G, opt_D = adam(G), adam(D)
    for _ in range(20):                                   # give D an opinion first
        opt_D.zero_grad(set_to_none=True)
        loss.discriminator_step(real[torch.randint(16, [8])], None, torch.randn(8, 16), None)
        opt_D.step()
    z_eval = torch.randn(16, 16)

    def g_loss() -> float:
        with torch.no_grad():
            logits = D(G(z_eval, None, noise_mode="const"))
        return float(torch.nn.functional.softplus(-logits).mean())

    before = g_loss()
    frozen_D = [p.detach().clone() for p in D.parameters()]
    for _ in range(20):
        opt_G.zero_grad(set_to_none=True)
        loss.generator_step(torch.randn(8, 16), None)
        opt_G.step()
    after = g_loss()
    assert all(torch.equal(a, b) for a, b in zip(frozen_D, D.parameters(), strict=True))
    assert before > math.log(2) and after < 0.5 * before, (before, after)
