"""The StyleGAN2-like generator and discriminator, in plain torch ops that run fast on a CPU.

    from train.networks import Generator, Discriminator
    G = Generator(z_dim=256, c_dim=0, w_dim=256, img_resolution=32)
    img = G(torch.randn(4, 256), None, truncation_psi=0.7)    # [4, 3, 32, 32], about [-1, 1]
    D = Discriminator(c_dim=0, img_resolution=32)
    logits = D(img, None)                                      # [4, 1]

Generator (Karras et al. 2020, "Analyzing and improving the image quality of StyleGAN"): a
mapping network (normalised z, optionally concatenated with an embedding of the one-hot label
c, then `mapping_layers` fully connected layers at a 0.01 learning-rate multiplier) turns z
into w and tracks the running mean of w for truncation. The synthesis network starts from a
learned 4x4 constant and doubles the resolution per block. Every 3x3 convolution is
*modulated* (its input channels scaled by a style, an affine map of w) and *demodulated*
(each output channel divided by the norm its weights would have after modulation), followed
by per-pixel noise of learned strength, a bias and leaky ReLU. Skip architecture: each block
adds its RGB output (a modulated 1x1 convolution) to the upsampled RGB of the block before.

Discriminator: residual blocks that halve the resolution down to 4x4, then the minibatch
standard deviation feature, a 3x3 convolution, two fully connected layers and, when
conditional, a projection onto an embedding of the label.

Equivalent in function to StyleGAN2 but cheaper on a CPU:
- Modulation scales the activations (x * style) and runs one shared convolution for the whole
  batch, instead of building per-sample weights for a grouped convolution; demodulation is
  then a per-sample, per-channel factor computed from the [N, in] styles.
- Upsampling convolutions are a stride-2 transposed 3x3 convolution followed by the
  [1, 3, 3, 1] low-pass filter (4x fewer multiply-adds than filtering, then convolving at the
  high resolution); downsampling is the same filter as a stride-2 depthwise convolution.
- Positive gains (the sqrt(2) after leaky ReLU, the residual 1/sqrt(2)) are folded into the
  weights, biases and demodulation factors, since leaky_relu(a * x) = a * leaky_relu(x).
- The RGB outputs are per-sample 1x1 convolutions, done as one batched matrix product.

All weights use the equalised learning rate (stored at unit variance, scaled at run time) so
Adam's step is the same for every layer. On CUDA, `num_fp16_res` runs the highest resolutions
in float16 with channels-last memory and activations clamped to +-256 (StyleGAN2-ADA's
`conv_clamp`); on the CPU everything is float32, unless inside ``bfloat16_on_cpu()``: then
those blocks take the same path in bfloat16 (fast on CPUs with AMX or AVX512-BF16; on AVX2
alone a convolution is 12 to 50 times slower than in float32).

Both classes keep their constructor arguments in ``init_kwargs`` (plain values), so a
checkpoint rebuilds them with ``Generator(**ckpt["G_kwargs"])``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import torch
import torch.nn.functional as F
from torch import nn

from marcus.model_files import ModelKind

SQRT2 = math.sqrt(2.0)  # leaky ReLU gain that keeps unit variance
FP16_CLAMP = 256.0      # float16 activations are clamped to this (StyleGAN2-ADA's conv_clamp)
HALF_DTYPES = (torch.float16, torch.bfloat16)
_CPU_HALF = contextvars.ContextVar("cpu_half_dtype", default=None)  # set by bfloat16_on_cpu


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at one resolution: fewer where images are larger."""
    return min(channel_base // resolution, channel_max)


def _check_resolution(img_resolution: int) -> None:
    if img_resolution < 8 or img_resolution & (img_resolution - 1):
        raise ValueError(f"img_resolution must be a power of two >= 8, not {img_resolution}")


@contextlib.contextmanager
def bfloat16_on_cpu(enabled: bool = True):
    """Within: the blocks that run in float16 on CUDA (``num_fp16_res``) run on the CPU in
    bfloat16, channels-last, with the same clamping: the GPU's mixed-precision path, where
    a CPU can take it."""
    token = _CPU_HALF.set(torch.bfloat16 if enabled else None)
    try:
        yield
    finally:
        _CPU_HALF.reset(token)


def _fp32_if_half(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in HALF_DTYPES else x


def _block_dtype(use_fp16: bool, like: torch.Tensor) -> tuple[torch.dtype, torch.memory_format]:
    """What a block computes in: where asked, float16 channels-last on CUDA (bfloat16 on the
    CPU inside ``bfloat16_on_cpu``), else the input's precision (float32, or float64 in the
    gradient checks)."""
    cpu_half = _CPU_HALF.get()
    if use_fp16 and like.device.type == "cuda":
        return torch.float16, torch.channels_last
    if use_fp16 and like.device.type == "cpu" and cpu_half is not None:
        return cpu_half, torch.channels_last
    return _fp32_if_half(like[:0]).dtype, torch.contiguous_format


# ----------------------------------------------------------------------------------------------
# Resampling with the [1, 3, 3, 1] low-pass filter


def _lowpass_kernel(gain: float, like: torch.Tensor) -> torch.Tensor:
    """The separable [1, 3, 3, 1] filter as a single-channel 4x4 kernel whose taps sum to
    `gain`."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=like.dtype, device=like.device)
    kernel = torch.outer(taps, taps)
    return (kernel * (gain / kernel.sum()))[None, None]


def lowpass_each_channel(x: torch.Tensor, gain: float, conv=F.conv2d,
                         depthwise: bool | None = None, **kwargs) -> torch.Tensor:
    """``conv`` (F.conv2d or F.conv_transpose2d, with ``kwargs``) of every channel of x with the
    low-pass kernel, in one of two forms that compute the same sums:

    - ``depthwise`` (the default on the CPU): one grouped convolution, groups = C. oneDNN runs
      it two to three times faster than the other form, double backward included
      (benchmarks/results/train_throughput.json, ``lowpass``).
    - otherwise (the default on a GPU): one single-channel convolution over N x C images.
      Autograd's double backward of a grouped convolution, which R1 and the path-length penalty
      need, runs one convolution per group: on a GPU that made a path-length step 40 times a
      plain one (2,000 small kernels; benchmarks/results/gpu_check.json)."""
    if depthwise is None:
        depthwise = x.device.type == "cpu"
    n, c, h, w = x.shape
    if depthwise:
        return conv(x, _lowpass_kernel(gain, x).expand(c, 1, 4, 4), groups=c, **kwargs)
    channels_last = c > 1 and x.is_contiguous(memory_format=torch.channels_last)
    y = conv(x.reshape(n * c, 1, h, w), _lowpass_kernel(gain, x), **kwargs)
    y = y.reshape(n, c, *y.shape[-2:])
    return y.contiguous(memory_format=torch.channels_last) if channels_last else y


def upsample2x(x: torch.Tensor, depthwise: bool | None = None) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, 2H, 2W]: zero insertion and low-pass filtering in one transposed
    convolution (gain 4 keeps the mean)."""
    return lowpass_each_channel(x, 4.0, F.conv_transpose2d, depthwise, stride=2, padding=1)


def downsample2x(x: torch.Tensor, depthwise: bool | None = None) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, H/2, W/2]: low-pass filtering and decimation in one strided
    convolution."""
    return lowpass_each_channel(x, 1.0, depthwise=depthwise, stride=2, padding=1)


# ----------------------------------------------------------------------------------------------
# Layers with the equalised learning rate


class FullyConnected(nn.Module):
    def __init__(self, in_features: int, out_features: int,
                 bias_init: float = 0.0,       # initial bias (1 for the style affines)
                 lr_multiplier: float = 1.0,   # this layer learns this much slower
                 activation: bool = False):    # leaky ReLU (gain sqrt 2) after the layer
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = SQRT2 if self.activation else 1.0
        weight, bias = self.weight * (self.weight_gain * gain), self.bias * (self.bias_gain * gain)
        x = F.linear(x, weight, bias)
        return F.leaky_relu(x, 0.2) if self.activation else x


class Conv2d(nn.Module):
    """A plain convolution (discriminator): optional 2x downsampling before it, optional leaky
    ReLU after it; `gain` scales the output (folded into weight and bias)."""

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
        gain = gain * SQRT2 if self.activation else gain
        weight = (self.weight * (self.weight_gain * gain)).to(x.dtype)
        bias = None if self.bias is None else (self.bias * gain).to(x.dtype)
        x = F.conv2d(x, weight, bias, padding=self.padding)
        if self.activation:
            x = F.leaky_relu(x, 0.2, inplace=True)  # autograd-safe: the backward uses the sign
        if x.dtype in HALF_DTYPES:
            x = x.clamp(-FP16_CLAMP, FP16_CLAMP)
        return x


# ----------------------------------------------------------------------------------------------
# Mapping network


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int,
                 layers: int = 8,               # depth of the MLP
                 lr_multiplier: float = 0.01,   # StyleGAN's slower mapping learning rate
                 w_avg_beta: float = 0.995):    # decay of the running mean of w, per batch
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        self.embed = FullyConnected(c_dim, w_dim) if c_dim else None
        features = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * layers
        self.layers = nn.ModuleList(
            FullyConnected(i, o, lr_multiplier=lr_multiplier, activation=True)
            for i, o in zip(features[:-1], features[1:], strict=True))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None,
                truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                update_emas: bool = False) -> torch.Tensor:
        """z [N, z_dim], c [N, c_dim] one-hot (None when unconditional) -> ws [N, num_ws, w_dim].

        truncation_psi < 1 pulls w towards its running mean (0 gives the mean itself) in the
        first `truncation_cutoff` layers (all when None); update_emas updates that mean."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], not {list(z.shape)}")
        x = _normalize_2nd_moment(z.to(self.w_avg.dtype))
        if self.embed is not None:
            if c is None or c.ndim != 2 or c.shape != (z.shape[0], self.c_dim):
                got = None if c is None else list(c.shape)
                raise ValueError(f"this network is conditional: c must be one-hot labels of "
                                 f"shape [{z.shape[0]}, {self.c_dim}], not {got}")
            x = torch.cat([x, _normalize_2nd_moment(self.embed(c.to(x.dtype)))], dim=1)
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


def _normalize_2nd_moment(x: torch.Tensor) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


# ----------------------------------------------------------------------------------------------
# Synthesis network


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     up: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The modulated 3x3 convolution of StyleGAN2, by scaling the activations.

    x [N, I, H, W], weight [O, I, k, k] (gain already applied), styles [N, I]. Returns the
    convolution of x with weight * style ([N, O, H, W], or 2H x 2W when `up`) and the
    demodulation factors [N, O] = 1 / |weight * style| that the caller multiplies in, fused with
    its bias and noise.
    """
    if x.dtype in HALF_DTYPES:
        # Demodulation cancels any overall scale of the styles: bring them to <= 1 first so
        # that x * styles cannot overflow float16 (bfloat16: the same path, for its tests).
        styles = styles / styles.abs().amax(dim=1, keepdim=True).clamp(min=1e-8)
    dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).T + 1e-8).rsqrt()   # [N, O]
    x = x * styles.to(x.dtype)[:, :, None, None]
    w = weight.to(x.dtype)
    if up:
        # Transposed stride-2 convolution ([N, O, 2H+1, 2W+1]), then the low-pass filter with
        # one pixel of padding brings it to [N, O, 2H, 2W]: StyleGAN2's upsampling convolution.
        x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
        x = lowpass_each_channel(x, 4.0, padding=1)
    else:
        x = F.conv2d(x, w, padding=weight.shape[-1] // 2)
    return x, dcoefs


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally upsampling 2x), demodulation, noise, bias, leaky
    ReLU: StyleGAN2's replacement for AdaIN."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 up: bool = False):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.weight_gain = 1 / math.sqrt(in_channels * 9)
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        # Fixed noise for noise_mode="const": a buffer, so it is saved and the output is
        # a deterministic function of w.
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.resolution, self.up = resolution, up

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random"
                ) -> torch.Tensor:
        x, dcoefs = modulated_conv2d(x, self.weight * self.weight_gain, self.affine(w),
                                     up=self.up)
        # leaky_relu(a * v) = a * leaky_relu(v) for a > 0: the sqrt(2) gain rides along on the
        # demodulation factors, bias and noise, saving a pass over the activations.
        x = torch.addcmul((self.bias * SQRT2).to(x.dtype)[None, :, None, None], x,
                          (dcoefs * SQRT2).to(x.dtype)[:, :, None, None])
        if noise_mode == "random":
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution],
                                device=x.device, dtype=x.dtype)
            x = x.add_(noise * (self.noise_strength * SQRT2).to(x.dtype))
        elif noise_mode == "const":
            x = x.add_(self.noise_const.to(x.dtype) * (self.noise_strength * SQRT2).to(x.dtype))
        elif noise_mode != "none":
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', not {noise_mode!r}")
        x = F.leaky_relu(x, 0.2, inplace=True)
        if x.dtype in HALF_DTYPES:
            x = x.clamp(-FP16_CLAMP, FP16_CLAMP)
        return x


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to RGB, not demodulated."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)
        self.bias = nn.Parameter(torch.zeros([img_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n, c, h, wd = x.shape
        # Per-sample weights [N, 3, I]: one batched matmul, no pass over x to modulate it.
        weights = (self.weight * self.weight_gain)[None] * self.affine(w)[:, None, :]
        y = torch.bmm(weights.to(x.dtype), x.reshape(n, c, h * wd))
        y = _fp32_if_half(y) + self.bias[None, :, None]
        if x.dtype in HALF_DTYPES:
            y = y.clamp(-FP16_CLAMP, FP16_CLAMP)
        return y.reshape(n, -1, h, wd)


class SynthesisBlock(nn.Module):
    """One resolution: (learned constant | upsampling layer), a second layer, and the RGB skip
    output added to the upsampled image so far."""

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
        self.num_conv = 1 if self.conv0 is None else 2  # styles used by convolutions

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str = "random") -> tuple[torch.Tensor, torch.Tensor]:
        """ws [N, num_conv + 1, w_dim]: one style per convolution and one for the RGB output."""
        dtype, memory_format = _block_dtype(self.use_fp16, ws)
        w = iter(ws.unbind(dim=1))
        if self.conv0 is None:
            x = self.const.to(dtype).unsqueeze(0).expand([ws.shape[0], -1, -1, -1])
        else:
            x = self.conv0(x.to(dtype=dtype, memory_format=memory_format), next(w), noise_mode)
        x = self.conv1(x, next(w), noise_mode)
        y = self.torgb(x, next(w))
        img = y if img is None else upsample2x(img) + y
        return x, img


class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int,
                 channel_max: int, num_fp16_res: int = 0):
        super().__init__()
        _check_resolution(img_resolution)
        self.w_dim, self.img_resolution = w_dim, img_resolution
        log2 = img_resolution.bit_length() - 1
        self.resolutions = [2 ** i for i in range(2, log2 + 1)]
        fp16_from = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.blocks = nn.ModuleList()
        for r in self.resolutions:
            in_channels = channels_at(r // 2, channel_base, channel_max) if r > 4 else 0
            self.blocks.append(SynthesisBlock(
                in_channels, channels_at(r, channel_base, channel_max), w_dim, r, img_channels,
                use_fp16=num_fp16_res > 0 and r >= fp16_from))
        # Block i reads styles [index, index + num_conv + 1): its RGB style is also the next
        # block's first convolution style, as in StyleGAN2; the last RGB output takes one more.
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> images [N, img_channels, R, R], float32, about [-1, 1]."""
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], "
                             f"not {list(ws.shape)}")
        x = img = None
        index = 0
        for block in self.blocks:
            x, img = block(x, img, ws.narrow(1, index, block.num_conv + 1), noise_mode)
            index += block.num_conv
        return img


class Generator(nn.Module):
    def __init__(self,
                 z_dim: int = 512,                     # latent size
                 c_dim: int = 0,                       # label size (one-hot); 0 = unconditional
                 w_dim: int = 512,                     # style size
                 img_resolution: int = 256,            # output side, a power of two >= 8
                 img_channels: int = 3,                # 3 = RGB
                 mapping_layers: int = 8,              # depth of the mapping network
                 channel_base: int = 16384,            # channels at resolution r: base / r ...
                 channel_max: int = 512,               # ... at most this
                 mapping_lr_multiplier: float = 0.01,  # the mapping network learns slower
                 num_fp16_res: int = 0):               # CUDA: float16 in N top resolutions
        super().__init__()
        _check_resolution(img_resolution)
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
    """Two 3x3 convolutions, the second halving the resolution, plus a 1x1 residual path; the
    sum is scaled by 1/sqrt(2) to keep unit variance."""

    def __init__(self, in_channels: int, out_channels: int, use_fp16: bool = False):
        super().__init__()
        self.use_fp16 = use_fp16
        self.conv0 = Conv2d(in_channels, in_channels, 3)
        self.conv1 = Conv2d(in_channels, out_channels, 3, down=True)
        self.skip = Conv2d(in_channels, out_channels, 1, bias=False, activation=False,
                           down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype, memory_format = _block_dtype(self.use_fp16, x)
        x = x.to(dtype=dtype, memory_format=memory_format)
        y = self.skip(x, gain=math.sqrt(0.5))
        return y.add_(self.conv1(self.conv0(x), gain=math.sqrt(0.5)))


class MinibatchStd(nn.Module):
    """Appends the standard deviation of each feature across a group of samples, averaged
    over features and pixels: a D that sees the variety within a batch can punish a G that
    collapses to few outputs."""

    def __init__(self, group_size: int = 4, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = math.gcd(min(self.group_size, n), n)  # a group size that divides the batch
        f = self.num_channels
        if c % f:
            raise ValueError(f"mbstd_channels {f} must divide the {c} feature channels")
        # Sample i belongs to group i % (n / g), as in StyleGAN2.
        y = _fp32_if_half(x).reshape(g, -1, f, c // f, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()      # [n/g, f, c/f, h, w]
        y = y.mean(dim=[2, 3, 4])                              # [n/g, f]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)          # [n, f, h, w]
        return torch.cat([x, y.to(x.dtype)], dim=1)


class Discriminator(nn.Module):
    def __init__(self,
                 c_dim: int = 0,                # label size (one-hot); 0 = unconditional
                 img_resolution: int = 256,     # input side, a power of two >= 8
                 img_channels: int = 3,         # 3 = RGB
                 channel_base: int = 16384,     # channels at resolution r: base / r ...
                 channel_max: int = 512,        # ... at most this
                 mbstd_group_size: int = 4,     # samples per standard-deviation group
                 mbstd_channels: int = 1,       # standard-deviation features appended
                 num_fp16_res: int = 0):        # CUDA: float16 in the N top resolutions
        super().__init__()
        _check_resolution(img_resolution)
        self.init_kwargs = dict(c_dim=c_dim, img_resolution=img_resolution,
                                img_channels=img_channels, channel_base=channel_base,
                                channel_max=channel_max, mbstd_group_size=mbstd_group_size,
                                mbstd_channels=mbstd_channels, num_fp16_res=num_fp16_res)
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        log2 = img_resolution.bit_length() - 1
        fp16_from = max(2 ** (log2 + 1 - num_fp16_res), 8)
        resolutions = [2 ** i for i in range(log2, 2, -1)]

        def ch(r: int) -> int:
            return channels_at(r, channel_base, channel_max)

        self.from_rgb = Conv2d(img_channels, ch(img_resolution), 1)
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(ch(r), ch(r // 2), use_fp16=num_fp16_res > 0 and r >= fp16_from)
            for r in resolutions)
        self.mbstd = MinibatchStd(mbstd_group_size, mbstd_channels)
        self.conv = Conv2d(ch(4) + mbstd_channels, ch(4), 3)
        self.fc = FullyConnected(ch(4) * 16, ch(4), activation=True)
        cmap_dim = ch(4)
        self.out = FullyConnected(ch(4), cmap_dim if c_dim else 1)
        self.embed = FullyConnected(c_dim, cmap_dim) if c_dim else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """img [N, img_channels, R, R] in [-1, 1], c [N, c_dim] one-hot -> logits [N, 1]."""
        expected = (self.img_channels, self.img_resolution, self.img_resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, expected))}], "
                             f"not {list(img.shape)}")
        if self.embed is not None and (c is None or c.shape != (img.shape[0], self.c_dim)):
            got = None if c is None else list(c.shape)
            raise ValueError(f"this network is conditional: c must be one-hot labels of shape "
                             f"[{img.shape[0]}, {self.c_dim}], not {got}")
        dtype, memory_format = _block_dtype(self.blocks[0].use_fp16, img)
        x = self.from_rgb(img.to(dtype=dtype, memory_format=memory_format))
        for block in self.blocks:
            x = block(x)
        x = _fp32_if_half(x).contiguous()
        x = self.conv(self.mbstd(x))
        x = self.out(self.fc(x.flatten(1)))
        if self.embed is not None:
            # Projection discriminator: the score is how well the features match the label.
            cmap = _normalize_2nd_moment(self.embed(c.to(x.dtype)))
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(cmap.shape[1])
        return x


# The model file train_gan writes (EMA weights) and load_generator reads; a training
# checkpoint (last.pt) holds the same weights under G_ema.
GENERATOR = ModelKind(format="marcus.generator", filename="generator.pt", build=Generator,
                      hint="train one with `dvc repro train_gan`",
                      checkpoint_keys=("G_ema", "G_kwargs"))
