"""The StyleGAN2-like generator and discriminator, in plain torch ops that run fast on a CPU.

    from train.networks import Generator, Discriminator
    G = Generator(z_dim=256, c_dim=0, w_dim=256, img_resolution=32)
    img = G(torch.randn(4, 256), None, truncation_psi=0.7)      # [4, 3, 32, 32] in ~[-1, 1]

Generator: a mapping network (normalised z, optional label embedding, `mapping_layers` fully
connected layers with a 0.01 learning-rate multiplier) turns z into w; the synthesis network
starts from a learned 4x4 constant and doubles the resolution per block, each 3x3 convolution
*modulated* by a per-layer style (an affine map of w) and *demodulated* (each output channel
renormalised), with per-pixel noise of learned strength, and a skip architecture: every block
adds its RGB output to the upsampled RGB of the block before. Discriminator: residual blocks
halving the resolution, a minibatch standard-deviation feature at 4x4, and a projection onto
the label embedding when conditional.

Choices made for speed on CPU, each equivalent in function to StyleGAN2's: modulation is
applied to the activations (x * style, one shared convolution for the whole batch, then
demodulation coefficients) instead of per-sample grouped weights; up- and downsampling use
the [1, 3, 3, 1] low-pass filter as a depthwise transposed/strided convolution. All weights use
the equalised learning rate (scaled at run time), so Adam sees unit-variance parameters.

Both classes keep their constructor arguments in ``init_kwargs`` (plain values), so a
checkpoint rebuilds them with ``Generator(**ckpt["G_kwargs"])``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


# ----------------------------------------------------------------------------------------------
# Building blocks


def _fir_kernel(channels: int, gain: float) -> torch.Tensor:
    """The separable [1, 3, 3, 1] low-pass filter as a depthwise 4x4 kernel, sum = gain."""
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = torch.outer(k, k)
    k = k / k.sum() * gain
    return k[None, None].repeat(channels, 1, 1, 1)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Zero-insertion and low-pass filtering in one depthwise transposed convolution."""
    c = x.shape[1]
    kernel = _fir_kernel(c, gain=4.0).to(x.dtype).to(x.device)
    return F.conv_transpose2d(x, kernel, stride=2, padding=1, groups=c)


def downsample2x(x: torch.Tensor) -> torch.Tensor:
    """Low-pass filtering and decimation in one depthwise strided convolution."""
    c = x.shape[1]
    kernel = _fir_kernel(c, gain=1.0).to(x.dtype).to(x.device)
    return F.conv2d(x, kernel, stride=2, padding=1, groups=c)


class FullyConnected(nn.Module):
    """A linear layer with the equalised learning rate (weights scaled at run time)."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0,
                 lr_multiplier: float = 1.0, activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)) / lr_multiplier)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.activation else x


class Conv2d(nn.Module):
    """A convolution with the equalised learning rate; optional 2x downsampling before it
    (blur + stride) and leaky ReLU after it."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 bias: bool = True, activation: bool = True, down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size,
                                               kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.activation, self.down, self.padding = activation, down, kernel_size // 2

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        if self.down:
            x = downsample2x(x)
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        if self.activation:
            x = F.leaky_relu(x, 0.2) * SQRT2
        return x * gain if gain != 1 else x


# ----------------------------------------------------------------------------------------------
# Mapping network


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int,
                 layers: int = 8,                # depth of the MLP
                 lr_multiplier: float = 0.01,    # StyleGAN's slower mapping learning rate
                 w_avg_beta: float = 0.995):     # decay of the running average of w
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        self.embed = FullyConnected(c_dim, w_dim) if c_dim else None
        features = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * layers
        self.layers = nn.ModuleList(
            FullyConnected(i, o, lr_multiplier=lr_multiplier, activation=True)
            for i, o in zip(features[:-1], features[1:], strict=True))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False
                ) -> torch.Tensor:
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        if self.embed is not None:
            if c is None:
                raise ValueError("this generator is conditional: pass one-hot labels c")
            y = self.embed(c.to(x.dtype))
            x = torch.cat([x, y * (y.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()], 1)
        for layer in self.layers:
            x = layer(x)
        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cutoff] = self.w_avg.lerp(ws[:, :cutoff], truncation_psi)
        return ws


# ----------------------------------------------------------------------------------------------
# Synthesis network


class ModulatedConv(nn.Module):
    """A convolution whose input channels are scaled by a style from w, with the output
    renormalised per sample and channel (demodulation) instead of StyleGAN's AdaIN."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int,
                 demodulate: bool = True, up: bool = False):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size,
                                               kernel_size))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.demodulate, self.up, self.padding = demodulate, up, kernel_size // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)                                   # [N, in]
        weight = self.weight * self.weight_gain                   # [out, in, k, k]
        if self.up:
            x = upsample2x(x)
        x = F.conv2d(x * styles[:, :, None, None].to(x.dtype), weight.to(x.dtype),
                     padding=self.padding)
        if self.demodulate:
            # sum over (in, k, k) of (weight * style)^2, per sample and output channel
            power = (styles.square() @ weight.square().sum(dim=[2, 3]).T)   # [N, out]
            x = x * (power + 1e-8).rsqrt()[:, :, None, None].to(x.dtype)
        return x


class SynthesisLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 up: bool = False):
        super().__init__()
        self.conv = ModulatedConv(in_channels, out_channels, w_dim, 3, up=up)
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.resolution = resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random"
                ) -> torch.Tensor:
        x = self.conv(x, w)
        if noise_mode == "random":
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution],
                                device=x.device, dtype=x.dtype)
            x = x + noise * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        elif noise_mode != "none":
            raise ValueError(f"noise_mode must be random, const or none, not {noise_mode!r}")
        return F.leaky_relu(x + self.bias[None, :, None, None].to(x.dtype), 0.2) * SQRT2


class ToRGB(nn.Module):
    def __init__(self, in_channels: int, img_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv(in_channels, img_channels, w_dim, 1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros([img_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None].to(x.dtype)


class SynthesisBlock(nn.Module):
    """One resolution: (constant | upsampling conv), conv, and the RGB skip output."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 img_channels: int, use_fp16: bool = False):
        super().__init__()
        self.resolution, self.use_fp16 = resolution, use_fp16
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
            self.conv0 = None
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.num_conv = 1 if self.conv0 is None else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = torch.float16 if self.use_fp16 and ws.device.type == "cuda" else torch.float32
        w = iter(ws.unbind(dim=1))
        if self.conv0 is None:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        else:
            x = self.conv0(x.to(dtype), next(w), noise_mode)
        x = self.conv1(x, next(w), noise_mode)
        y = self.torgb(x, next(w)).float()
        img = y if img is None else upsample2x(img) + y
        return x, img


class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int,
                 channel_max: int, num_fp16_res: int = 0):
        super().__init__()
        self.resolutions = [2 ** i for i in range(2, int(np.log2(img_resolution)) + 1)]
        channels = {r: min(channel_base // r, channel_max) for r in self.resolutions}
        fp16_from = max(2 ** (int(np.log2(img_resolution)) + 1 - num_fp16_res), 8)
        self.blocks = nn.ModuleList()
        for r in self.resolutions:
            self.blocks.append(SynthesisBlock(channels[r // 2] if r > 4 else 0, channels[r],
                                              w_dim, r, img_channels,
                                              use_fp16=num_fp16_res > 0 and r >= fp16_from))
        # Each block uses num_conv styles plus one for its RGB output, which it shares with
        # the next block's first convolution; the last RGB output takes one more.
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x = img = None
        index = 0
        for block in self.blocks:
            x, img = block(x, img, ws.narrow(1, index, block.num_conv + 1), noise_mode)
            index += block.num_conv
        return img


class Generator(nn.Module):
    def __init__(self,
                 z_dim: int = 512,              # latent size
                 c_dim: int = 0,                # label size (one-hot); 0 = unconditional
                 w_dim: int = 512,              # style size
                 img_resolution: int = 256,     # output side, a power of two >= 8
                 img_channels: int = 3,
                 mapping_layers: int = 8,       # depth of the mapping network
                 channel_base: int = 16384,     # channels at resolution r: base / r ...
                 channel_max: int = 512,        # ... at most this
                 mapping_lr_multiplier: float = 0.01,
                 num_fp16_res: int = 0):        # CUDA only: fp16 in the N highest resolutions
        super().__init__()
        if img_resolution < 8 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 8, not {img_resolution}")
        self.init_kwargs = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim,
                                img_resolution=img_resolution, img_channels=img_channels,
                                mapping_layers=mapping_layers, channel_base=channel_base,
                                channel_max=channel_max,
                                mapping_lr_multiplier=mapping_lr_multiplier,
                                num_fp16_res=num_fp16_res)
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, channel_base,
                                          channel_max, num_fp16_res)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, mapping_layers,
                                      mapping_lr_multiplier)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None,
                truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "random", update_emas: bool = False) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_emas)
        return self.synthesis(ws, noise_mode)


# ----------------------------------------------------------------------------------------------
# Discriminator


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convolutions, the second halving the resolution, plus a 1x1 residual path."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = Conv2d(in_channels, in_channels, 3)
        self.conv1 = Conv2d(in_channels, out_channels, 3, down=True)
        self.skip = Conv2d(in_channels, out_channels, 1, bias=False, activation=False,
                           down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(x, gain=math.sqrt(0.5))
        return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


class MinibatchStd(nn.Module):
    """Appends the standard deviation of features across groups of samples: a D that sees
    variety can punish a G that collapses to few outputs."""

    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = math.gcd(n, g)
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])         # [n/g, f]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    def __init__(self,
                 c_dim: int = 0,                # label size (one-hot); 0 = unconditional
                 img_resolution: int = 256,
                 img_channels: int = 3,
                 channel_base: int = 16384,
                 channel_max: int = 512,
                 mbstd_group_size: int = 4,     # samples per standard-deviation group
                 mbstd_channels: int = 1,
                 num_fp16_res: int = 0):        # accepted for symmetry with G; fp32 here
        super().__init__()
        if img_resolution < 8 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 8, not {img_resolution}")
        self.init_kwargs = dict(c_dim=c_dim, img_resolution=img_resolution,
                                img_channels=img_channels, channel_base=channel_base,
                                channel_max=channel_max, mbstd_group_size=mbstd_group_size,
                                mbstd_channels=mbstd_channels, num_fp16_res=num_fp16_res)
        self.c_dim, self.img_resolution = c_dim, img_resolution
        resolutions = [2 ** i for i in range(int(np.log2(img_resolution)), 2, -1)]
        channels = {r: min(channel_base // r, channel_max) for r in resolutions + [4]}
        self.from_rgb = Conv2d(img_channels, channels[img_resolution], 1)
        self.blocks = nn.ModuleList(DiscriminatorBlock(channels[r], channels[r // 2])
                                    for r in resolutions)
        c4 = channels[4]
        self.mbstd = MinibatchStd(mbstd_group_size, mbstd_channels)
        self.conv = Conv2d(c4 + mbstd_channels, c4, 3)
        self.fc = FullyConnected(c4 * 16, c4, activation=True)
        self.out = FullyConnected(c4, c4 if c_dim else 1)
        self.embed = FullyConnected(c_dim, c4) if c_dim else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.from_rgb(img)
        for block in self.blocks:
            x = block(x)
        x = self.conv(self.mbstd(x))
        x = self.out(self.fc(x.flatten(1)))
        if self.embed is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass one-hot labels c")
            cmap = self.embed(c.to(x.dtype))
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(cmap.shape[1])
        return x
