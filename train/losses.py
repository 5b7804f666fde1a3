"""StyleGAN2's losses: non-saturating logistic, lazy R1, path-length regularisation, mixing.

One object holds G, D and the augmentation. The training loop calls it once per phase and
keeps the optimiser steps, the EMA and the gradient averaging to itself::

    loss = StyleGAN2Loss(G, D, augment=pipe, r1_gamma=0.05, pl_weight=2,
                         g_reg_interval=4, d_reg_interval=16)
    ratio_G, ratio_D = 4 / (4 + 1), 16 / (16 + 1)    # interval / (interval + 1)
    opt_G = Adam(G.parameters(), lr=0.0025 * ratio_G, betas=(0.0, 0.99 ** ratio_G))
    opt_D = Adam(D.parameters(), lr=0.0025 * ratio_D, betas=(0.0, 0.99 ** ratio_D))
    for step in range(steps):
        opt_G.zero_grad(set_to_none=True)
        logs = loss.generator_step(z, c, do_pl=step % 4 == 0)          # forward + backward
        distributed.reduce_gradients(G, dist); opt_G.step()              # all-reduce .grad
        opt_D.zero_grad(set_to_none=True)
        logs |= loss.discriminator_step(real, real_c, z2, c2, do_r1=step % 16 == 0)
        distributed.reduce_gradients(D, dist); opt_D.step()
        ada.accumulate(logs.pop("real_signs"))                        # for AdaptiveAugment
        with torch.no_grad():                                          # G_ema: EMA of weights
            for p_ema, p in zip(G_ema.parameters(), G.parameters()): p_ema.lerp_(p, 1 - beta)
            for b_ema, b in zip(G_ema.buffers(), G.buffers()): b_ema.copy_(b)

Lazy regularisation (Karras et al. 2020): R1 and the path-length penalty are computed only on
every N-th step and multiplied by N, so their strength per image is unchanged. Here they are
folded into that step's single backward pass (R1 reuses the D forward on the reals), so there
is one optimiser step per phase. StyleGAN2 runs them as separate optimiser steps and therefore
scales Adam's lr by ratio = N / (N + 1) and its betas by **ratio; keep that scaling: with it,
the main losses see exactly StyleGAN2's effective Adam settings (e.g. G at 0.0025 * 4/5).

Several processes: all-reduce and average every ``.grad`` after the step's backward passes
(train/distributed.py ``reduce_gradients``). Do not wrap G or D in DistributedDataParallel: R1 and
the path length need ``torch.autograd.grad(create_graph=True)``, which DDP's hooks do not
support, and the G step backpropagates through a frozen D. Running statistics that each rank
updates on its own (``G.mapping.w_avg``, ``loss.pl_mean``) are averaged after the step.

Each step returns floats to log; the discriminator step also returns ``real_signs``, the signs
of D's logits on the reals, a tensor for the ADA controller. ``gain`` scales every loss, for
gradient accumulation over several rounds of a batch. ``pl_mean`` is state: ``state_dict()``
goes into the checkpoint and ``load_state_dict()`` restores it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from train.networks import Discriminator, Generator


@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """No weight gradients for `module` inside (gradients still flow through it to its
    input): the G step needs D's input gradients only, which halves D's backward cost."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


class StyleGAN2Loss:
    def __init__(self, G: Generator, D: Discriminator,
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None,  # e.g. ADA
                 r1_gamma: float = 10.0,          # R1 weight; 0 = off
                 style_mixing_prob: float = 0.9,  # share of batches painted from two latents
                 pl_weight: float = 0.0,          # path-length weight; 0 = off
                 pl_batch_shrink: int = 2,        # path-length batch = batch / this
                 pl_decay: float = 0.01,          # decay of the running mean path length
                 g_reg_interval: int = 4,         # the loop sets do_pl every N steps
                 d_reg_interval: int = 16):       # the loop sets do_r1 every N steps
        for name, value in [("r1_gamma", r1_gamma), ("pl_weight", pl_weight)]:
            if value < 0:
                raise ValueError(f"{name} must be >= 0, not {value}")
        if not 0 <= style_mixing_prob <= 1:
            raise ValueError(f"style_mixing_prob must be in [0, 1], not {style_mixing_prob}")
        if pl_batch_shrink < 1 or g_reg_interval < 1 or d_reg_interval < 1:
            raise ValueError("pl_batch_shrink, g_reg_interval and d_reg_interval must be >= 1")
        self.G, self.D, self.augment = G, D, augment
        self.r1_gamma, self.style_mixing_prob = r1_gamma, style_mixing_prob
        self.pl_weight, self.pl_batch_shrink, self.pl_decay = pl_weight, pl_batch_shrink, pl_decay
        self.g_reg_interval, self.d_reg_interval = g_reg_interval, d_reg_interval
        device = next(G.parameters()).device
        self.pl_mean = torch.zeros([], device=device)  # updated in place (ranks average it)

    def state_dict(self) -> dict:
        return {"pl_mean": self.pl_mean.detach().cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.pl_mean.copy_(torch.as_tensor(state["pl_mean"]))

    # ---- helpers ---------------------------------------------------------------------------

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None, update_emas: bool = False
                ) -> torch.Tensor:
        """ws with style mixing: with probability style_mixing_prob, the styles from a random
        layer on come from a second latent (so G cannot rely on neighbouring layers' styles
        being correlated). One cutoff per batch, as in StyleGAN2-ADA."""
        ws = self.G.mapping(z, c, update_emas=update_emas)
        if self.style_mixing_prob > 0:
            num_ws = ws.shape[1]
            cutoff = int(torch.randint(1, num_ws, []))
            mix = float(torch.rand([])) < self.style_mixing_prob
            second = torch.randn_like(z)  # always drawn: RNG use does not depend on the coin
            if mix:
                ws2 = self.G.mapping(second, c)
                ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        return ws

    def run_D(self, images: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if self.augment is not None:
            images = self.augment(images)
        return self.D(images, c)

    # ---- phases ----------------------------------------------------------------------------

    def generator_step(self, z: torch.Tensor, c: torch.Tensor | None, do_pl: bool = False,
                       gain: float = 1.0) -> dict[str, float]:
        """G's loss -log sigmoid(D(G(z))) and, when do_pl, the path-length penalty; backward
        into G's .grad (D gets none). Returns {"G", "pl"?, "pl_mean"?}."""
        with frozen(self.D):
            fake = self.G.synthesis(self.mapping(z, c))
            loss_G = F.softplus(-self.run_D(fake, c)).mean()
            (loss_G * gain).backward()
        logs = {"G": float(loss_G.detach())}
        if do_pl and self.pl_weight > 0:
            logs |= self._path_length(z, c, gain)
        return logs

    def _path_length(self, z: torch.Tensor, c: torch.Tensor | None, gain: float
                     ) -> dict[str, float]:
        """Penalise |J^T y| (J: the image's Jacobian with respect to w, y: a random image)
        for straying from its running mean: a fixed step in w should change the image by a
        fixed amount, whatever the direction, which makes G smoother and easier to invert."""
        n = max(z.shape[0] // self.pl_batch_shrink, 1)
        ws = self.mapping(z[:n], None if c is None else c[:n])
        fake = self.G.synthesis(ws)
        noise = torch.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3])
        (grad,) = torch.autograd.grad((fake * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()       # [n]
        pl_mean = self.pl_mean.lerp(lengths.mean(), self.pl_decay)
        self.pl_mean.copy_(pl_mean.detach())
        penalty = (lengths - pl_mean).square().mean()
        (penalty * (self.pl_weight * self.g_reg_interval * gain)).backward()
        return {"pl": float(penalty.detach()), "pl_mean": float(pl_mean.detach())}

    def discriminator_step(self, real: torch.Tensor, real_c: torch.Tensor | None,
                           z: torch.Tensor, c: torch.Tensor | None, do_r1: bool = False,
                           gain: float = 1.0) -> dict:
        """D's loss -log(1 - sigmoid(D(G(z)))) - log sigmoid(D(x)) and, when do_r1, the R1
        penalty r1_gamma / 2 * |grad_x D(x)|^2 (times d_reg_interval); backward into D's .grad.

        Returns {"D" (loss), "D_real", "D_fake" (mean logits), "r1"?} as floats and
        "real_signs" (tensor [N], sign of D on each real) for the ADA controller."""
        with torch.no_grad():
            fake = self.G.synthesis(self.mapping(z, c, update_emas=True))
        fake_logits = self.run_D(fake, c)
        loss_fake = F.softplus(fake_logits).mean()
        use_r1 = do_r1 and self.r1_gamma > 0
        real_in = real.detach().requires_grad_(use_r1)
        real_logits = self.run_D(real_in, real_c)
        loss_real = F.softplus(-real_logits).mean()
        total = loss_fake + loss_real
        logs: dict = {"D": float(total.detach()),
                      "D_real": float(real_logits.detach().mean()),
                      "D_fake": float(fake_logits.detach().mean()),
                      "real_signs": real_logits.detach().sign().flatten()}
        if use_r1:
            # Gradient with respect to the un-augmented reals, through the augmentation.
            penalty = r1_penalty(real_logits, real_in)
            total = total + penalty * (self.r1_gamma / 2 * self.d_reg_interval)
            logs["r1"] = float(penalty.detach())
        (total * gain).backward()
        return logs


def r1_penalty(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of |d logit_i / d image_i|^2; differentiable (create_graph), so it
    can be minimised. Each logit depends on its own image only (mbstd aside), so the gradient
    of the sum gives every sample's gradient in one pass."""
    (grad,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return grad.square().sum(dim=[1, 2, 3]).mean()
