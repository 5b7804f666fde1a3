"""StyleGAN2's losses: non-saturating logistic, lazy R1, path-length regularisation, mixing.

One object holds G, D and the augmentation; the training loop calls it once per phase and
keeps the optimiser steps to itself::

    loss = StyleGAN2Loss(G, D, augment=pipe, r1_gamma=0.05, d_reg_interval=16)
    opt_G.zero_grad(set_to_none=True)
    logs = loss.generator_step(z, c, do_pl=step % 4 == 0)      # forward + backward
    average_gradients(G, dist); opt_G.step()
    opt_D.zero_grad(set_to_none=True)
    logs |= loss.discriminator_step(real, real_c, z, c, do_r1=step % 16 == 0)
    average_gradients(D, dist); opt_D.step()

Each step returns floats to log, and the discriminator step also the signs of D's logits on
the reals (``real_signs``) for the ADA controller. Lazy regularisation: R1 and the path-length
penalty are computed only every N steps and multiplied by N, so their strength per image is
unchanged (Karras et al. 2020, "Analyzing and improving..."); the loop scales Adam's
hyperparameters to match. ``gain`` scales every loss, for gradient accumulation over several
rounds of a batch. The running path-length mean is state: ``state_dict()`` goes into the
checkpoint.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from train.networks import Discriminator, Generator


class StyleGAN2Loss:
    def __init__(self, G: Generator, D: Discriminator, augment=None,
                 r1_gamma: float = 10.0,          # R1 weight
                 style_mixing_prob: float = 0.9,  # share of samples painted from two latents
                 pl_weight: float = 0.0,          # path-length weight; 0 = off
                 pl_batch_shrink: int = 2,        # path-length batch = batch / this
                 pl_decay: float = 0.01,          # running mean of path lengths
                 g_reg_interval: int = 4,         # the loop runs do_pl every N steps
                 d_reg_interval: int = 16):       # the loop runs do_r1 every N steps
        self.G, self.D, self.augment = G, D, augment
        self.r1_gamma, self.style_mixing_prob = r1_gamma, style_mixing_prob
        self.pl_weight, self.pl_batch_shrink, self.pl_decay = pl_weight, pl_batch_shrink, pl_decay
        self.g_reg_interval, self.d_reg_interval = g_reg_interval, d_reg_interval
        self.pl_mean = torch.zeros([])

    def state_dict(self) -> dict:
        return {"pl_mean": self.pl_mean.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.pl_mean = state["pl_mean"].clone()

    # ---- helpers ----

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None, update_emas: bool = False
                ) -> torch.Tensor:
        """w per layer, with style mixing: from a random layer on, a second latent's styles."""
        ws = self.G.mapping(z, c, update_emas=update_emas)
        if self.style_mixing_prob > 0:
            num_ws = ws.shape[1]
            cutoff = int(torch.randint(1, num_ws, []))
            if float(torch.rand([])) >= self.style_mixing_prob:
                cutoff = num_ws
            if cutoff < num_ws:
                mixed = self.G.mapping(torch.randn_like(z), c, update_emas=False)
                ws = torch.cat([ws[:, :cutoff], mixed[:, cutoff:]], dim=1)
        return ws

    def run_D(self, images: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if self.augment is not None:
            images = self.augment(images)
        return self.D(images, c)

    # ---- phases ----

    def generator_step(self, z: torch.Tensor, c: torch.Tensor | None, do_pl: bool = False,
                       gain: float = 1.0) -> dict[str, float]:
        ws = self.mapping(z, c)
        fake = self.G.synthesis(ws)
        loss_G = F.softplus(-self.run_D(fake, c)).mean()  # -log(sigmoid(D(G(z))))
        (loss_G * gain).backward()
        logs = {"G": float(loss_G.detach())}
        if do_pl and self.pl_weight > 0:
            logs["pl"] = self._path_length(z, c, gain)
        return logs

    def _path_length(self, z: torch.Tensor, c: torch.Tensor | None, gain: float) -> float:
        """Penalise changes in |J^T y| (J: the image's Jacobian w.r.t. w, y: random images)
        away from their running mean: equal steps in w give equal changes in the image."""
        n = max(z.shape[0] // self.pl_batch_shrink, 1)
        ws = self.mapping(z[:n], None if c is None else c[:n])
        fake = self.G.synthesis(ws)
        noise = torch.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3])
        (grad,) = torch.autograd.grad((fake * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
        self.pl_mean = self.pl_mean.lerp(lengths.mean().detach(), self.pl_decay)
        penalty = (lengths - self.pl_mean).square().mean()
        (penalty * self.pl_weight * self.g_reg_interval * gain).backward()
        return float(penalty.detach())

    def discriminator_step(self, real: torch.Tensor, real_c: torch.Tensor | None,
                           z: torch.Tensor, c: torch.Tensor | None, do_r1: bool = False,
                           gain: float = 1.0) -> dict:
        with torch.no_grad():
            fake = self.G.synthesis(self.mapping(z, c, update_emas=True))
        fake_logits = self.run_D(fake, c)
        loss_fake = F.softplus(fake_logits).mean()  # -log(1 - sigmoid(D(G(z))))
        real_in = real.detach().requires_grad_(do_r1 and self.r1_gamma > 0)
        real_logits = self.run_D(real_in, real_c)
        loss_real = F.softplus(-real_logits).mean()  # -log(sigmoid(D(x)))
        total = loss_fake + loss_real
        logs: dict = {"D": float(total.detach()), "D_real": float(real_logits.detach().mean()),
                      "D_fake": float(fake_logits.detach().mean()),
                      "real_signs": real_logits.detach().sign().flatten()}
        if do_r1 and self.r1_gamma > 0:
            # R1: squared gradient norm of D at the reals (augmentation included)
            (grad,) = torch.autograd.grad(real_logits.sum(), real_in, create_graph=True)
            penalty = grad.square().sum(dim=[1, 2, 3]).mean()
            total = total + penalty * (self.r1_gamma / 2) * self.d_reg_interval
            logs["r1"] = float(penalty.detach())
        (total * gain).backward()
        return logs
