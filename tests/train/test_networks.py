"""The StyleGAN2-like networks (train/networks.py): shapes per block, the fast formulations
against brute-force references, gradients, determinism, truncation, rebuilding from kwargs.

All networks are tiny (16-32 channels, 16-32 px), so the file runs in seconds on a CPU.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from train.networks import (
    FP16_CLAMP,
    Conv2d,
    Discriminator,
    DiscriminatorBlock,
    Generator,
    MappingNetwork,
    MinibatchStd,
    SynthesisBlock,
    SynthesisLayer,
    ToRGB,
    bfloat16_on_cpu,
    channels_at,
    downsample2x,
    modulated_conv2d,
    upsample2x,
)

TINY = dict(channel_base=256, channel_max=32)


def tiny_G(**kwargs) -> Generator:
    args = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, mapping_layers=2, **TINY)
    return Generator(**{**args, **kwargs})


def tiny_D(**kwargs) -> Discriminator:
    return Discriminator(**{**dict(c_dim=0, img_resolution=16, **TINY), **kwargs})


# ---- blocks: shapes and brute-force references -------------------------------------------------


def test_channels_at():
    assert [channels_at(r, 16384, 128) for r in (4, 32, 256)] == [128, 128, 64]


def test_mapping_shapes_and_label_embedding():
    torch.manual_seed(0)
    m = MappingNetwork(z_dim=8, c_dim=3, w_dim=12, num_ws=5, layers=2)
    c = F.one_hot(torch.tensor([0, 2]), 3).float()
    ws = m(torch.randn(2, 8), c)
    assert ws.shape == (2, 5, 12)
    assert torch.equal(ws[:, 0], ws[:, 4])            # one w broadcast to every layer
    z = torch.randn(1, 8).repeat(2, 1)
    out = m(z, c)
    assert not torch.allclose(out[0], out[1])          # the label changes w
    with pytest.raises(ValueError, match="conditional"):
        m(torch.randn(2, 8), None)
    with pytest.raises(ValueError, match=r"\[N, 8\]"):
        m(torch.randn(2, 7), c)


def test_modulated_conv_equals_per_sample_weights():
    """Scaling activations + demodulation factors == StyleGAN2's per-sample normalised weights."""
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 5, 8, 8), torch.randn(7, 5, 3, 3), torch.randn(3, 5)
    y, dcoefs = modulated_conv2d(x, weight, styles)
    assert y.shape == (3, 7, 8, 8) and dcoefs.shape == (3, 7)
    for i in range(3):
        w = weight * styles[i][None, :, None, None]
        w = w / w.square().sum(dim=[1, 2, 3], keepdim=True).sqrt()
        expected = F.conv2d(x[i:i + 1], w, padding=1)
        torch.testing.assert_close(y[i:i + 1] * dcoefs[i][None, :, None, None], expected,
                                   rtol=1e-4, atol=1e-5)


def test_modulated_upsampling_conv_is_transposed_conv_then_lowpass():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(2, 4, 4, 4), torch.randn(6, 4, 3, 3), torch.randn(2, 4)
    y, _ = modulated_conv2d(x, weight, styles, up=True)
    assert y.shape == (2, 6, 8, 8)
    # Reference: zero insertion, 3x3 convolution (flipped kernel), then the 4x4 low-pass.
    up = torch.zeros(2, 4, 7, 7)
    up[:, :, ::2, ::2] = x * styles[:, :, None, None]
    full = F.conv2d(F.pad(up, [2, 2, 2, 2]), weight.flip([2, 3]))          # [2, 6, 9, 9]
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = torch.outer(taps, taps) / 64 * 4                                   # sums to 4
    ref = F.conv2d(full, k.expand(6, 1, 4, 4), padding=1, groups=6)        # [2, 6, 8, 8]
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-4)


def test_resampling_keeps_a_constant_image_constant_inside():
    x = torch.full([1, 2, 8, 8], 3.0)
    assert upsample2x(x).shape == (1, 2, 16, 16)
    torch.testing.assert_close(upsample2x(x)[..., 2:-2, 2:-2], torch.full([1, 2, 12, 12], 3.0))
    assert downsample2x(x).shape == (1, 2, 4, 4)
    torch.testing.assert_close(downsample2x(x)[..., 1:-1, 1:-1], torch.full([1, 2, 2, 2], 3.0))


def test_synthesis_layer_torgb_and_block_shapes():
    torch.manual_seed(0)
    w = torch.randn(3, 16)
    layer = SynthesisLayer(8, 12, w_dim=16, resolution=16, up=True)
    assert layer(torch.randn(3, 8, 8, 8), w).shape == (3, 12, 16, 16)
    same = SynthesisLayer(12, 12, w_dim=16, resolution=16)
    assert same(torch.randn(3, 12, 16, 16), w).shape == (3, 12, 16, 16)

    torgb = ToRGB(12, 3, w_dim=16)
    x = torch.randn(3, 12, 16, 16)
    rgb = torgb(x, w)
    assert rgb.shape == (3, 3, 16, 16)
    # == a per-sample modulated 1x1 convolution
    styles = torgb.affine(w)
    for i in range(3):
        weight = (torgb.weight * torgb.weight_gain * styles[i])[:, :, None, None]
        ref = F.conv2d(x[i:i + 1], weight, torgb.bias)
        torch.testing.assert_close(rgb[i:i + 1], ref, rtol=1e-4, atol=1e-5)

    first = SynthesisBlock(0, 12, w_dim=16, resolution=4, img_channels=3)
    x, img = first(None, None, torch.randn(3, 2, 16))
    assert x.shape == (3, 12, 4, 4) and img.shape == (3, 3, 4, 4)
    block = SynthesisBlock(12, 8, w_dim=16, resolution=8, img_channels=3)
    x, img = block(x, img, torch.randn(3, 3, 16))
    assert x.shape == (3, 8, 8, 8) and img.shape == (3, 3, 8, 8)


def test_discriminator_block_and_minibatch_std():
    block = DiscriminatorBlock(8, 16)
    assert block(torch.randn(4, 8, 16, 16)).shape == (4, 16, 8, 8)

    torch.manual_seed(0)
    x = torch.randn(8, 6, 4, 4)
    y = MinibatchStd(group_size=4, num_channels=2)(x)
    assert y.shape == (8, 8, 4, 4)
    torch.testing.assert_close(y[:, :6], x)
    # Brute force: sample i is in group {j : j % 2 == i % 2}; feature f covers channels 3f..3f+2
    for i in range(8):
        group = x[i % 2::2]
        for f in range(2):
            std = group[:, 3 * f:3 * f + 3].std(dim=0, unbiased=False)
            torch.testing.assert_close(y[i, 6 + f], torch.full([4, 4], float(std.mean())),
                                       rtol=1e-4, atol=1e-6)
    # A batch that is not a multiple of the group size still works (smaller groups).
    assert MinibatchStd(4)(torch.randn(6, 6, 4, 4)).shape == (6, 7, 4, 4)


def test_generator_and_discriminator_shapes():
    torch.manual_seed(0)
    for resolution in (8, 16, 32):
        G = tiny_G(img_resolution=resolution)
        D = tiny_D(img_resolution=resolution)
        img = G(torch.randn(2, 16), None)
        assert img.shape == (2, 3, resolution, resolution) and img.dtype == torch.float32
        assert D(img, None).shape == (2, 1)
    assert Generator(z_dim=8, w_dim=8, img_resolution=32, mapping_layers=1, **TINY).num_ws == 8
    with pytest.raises(ValueError, match="power of two"):
        tiny_G(img_resolution=24)
    with pytest.raises(ValueError, match="power of two"):
        tiny_D(img_resolution=4)
    with pytest.raises(ValueError, match="images must have shape"):
        tiny_D()(torch.randn(2, 3, 32, 32))


def test_conditional_generator_and_projection_discriminator():
    torch.manual_seed(0)
    G, D = tiny_G(c_dim=4), tiny_D(c_dim=4)
    c = F.one_hot(torch.tensor([0, 3]), 4).float()
    img = G(torch.randn(2, 16), c, noise_mode="const")
    logits = D(img, c)
    assert logits.shape == (2, 1)
    assert not torch.allclose(logits, D(img, c.flip(0)))   # the label changes D's verdict
    with pytest.raises(ValueError, match="conditional"):
        D(img, None)


# ---- gradients ---------------------------------------------------------------------------------


def test_gradients_reach_every_generator_and_discriminator_parameter():
    torch.manual_seed(0)
    G, D = tiny_G(c_dim=3), tiny_D(c_dim=3)
    c = F.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
    D(G(torch.randn(4, 16), c, noise_mode="random"), c).sum().backward()
    for module in (G, D):
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    names = dict(G.named_parameters())
    assert "synthesis.blocks.0.const" in names
    assert any(n.endswith("noise_strength") for n in names)
    assert any(n.startswith("mapping.layers") for n in names)


# ---- determinism, noise, truncation, fp16 switch, rebuilding -----------------------------------


def test_same_seed_same_bits():
    def sample():
        torch.manual_seed(123)
        G = tiny_G()
        return G(torch.randn(4, 16), None, noise_mode="random")

    a, b = sample(), sample()
    assert torch.equal(a, b)


def test_noise_modes():
    torch.manual_seed(0)
    G = tiny_G()
    with torch.no_grad():
        for layer in G.modules():
            if isinstance(layer, SynthesisLayer):
                layer.noise_strength.fill_(0.5)
        z = torch.randn(2, 16)
        const = G(z, None, noise_mode="const")
        assert torch.equal(const, G(z, None, noise_mode="const"))
        assert not torch.equal(G(z, None, noise_mode="random"), G(z, None, noise_mode="random"))
        assert not torch.equal(const, G(z, None, noise_mode="none"))
    assert "synthesis.blocks.0.conv1.noise_const" in G.state_dict()   # saved with the weights
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, None, noise_mode="fixed")


def test_truncation():
    torch.manual_seed(0)
    G = tiny_G()
    for _ in range(5):
        G.mapping(torch.randn(8, 16), None, update_emas=True)
    assert G.mapping.w_avg.abs().sum() > 0
    z = torch.randn(3, 16)
    ws = G.mapping(z, None, truncation_psi=0)
    assert torch.equal(ws, G.mapping.w_avg.expand_as(ws))
    full = G.mapping(z, None)
    cut = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=2)
    torch.testing.assert_close(cut[:, :2], G.mapping.w_avg.lerp(full[:, :2], 0.5))
    assert torch.equal(cut[:, 2:], full[:, 2:])


def test_fp16_setting_is_ignored_on_cpu():
    torch.manual_seed(0)
    plain = tiny_G()
    torch.manual_seed(0)
    mixed = tiny_G(num_fp16_res=2)
    z = torch.randn(2, 16)
    assert torch.equal(plain(z, None, noise_mode="const"), mixed(z, None, noise_mode="const"))


def _block_outputs(module: torch.nn.Module, kind: type, call) -> list[torch.Tensor]:
    """What every ``kind`` block of ``module`` returned during ``call()``: its features."""
    seen = []

    def keep(_block, _inputs, output):
        seen.append(output[0] if isinstance(output, tuple) else output)

    hooks = [m.register_forward_hook(keep) for m in module.modules() if isinstance(m, kind)]
    try:
        call()
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def test_inside_bfloat16_on_cpu_the_fp16_blocks_take_the_gpu_s_mixed_precision_path():
    """The CUDA-only path (half precision, channels-last, clamping, the half-to-float32 hand
    over) runs on the CPU in bfloat16 where asked, in the num_fp16_res top blocks only."""
    torch.manual_seed(0)
    G, D = tiny_G(num_fp16_res=2), tiny_D(num_fp16_res=2)
    z = torch.randn(4, 16)
    with bfloat16_on_cpu():
        features = _block_outputs(G, SynthesisBlock, lambda: G(z, None, noise_mode="const"))
        image = G(z, None, noise_mode="const")
        d_features = _block_outputs(D, DiscriminatorBlock, lambda: D(image))
        logits = D(image)
    assert [f.dtype for f in features] == [torch.float32, torch.bfloat16, torch.bfloat16]
    assert all(f.is_contiguous(memory_format=torch.channels_last) for f in features[1:])
    assert [f.dtype for f in d_features] == [torch.bfloat16] * 2      # its blocks at 16 and 8 px
    assert image.dtype == logits.dtype == torch.float32
    plain_image = G(z, None, noise_mode="const")                   # outside: float32 again
    assert torch.corrcoef(torch.stack([image.flatten(), plain_image.flatten()]))[0, 1] > 0.99
    assert not torch.equal(image, plain_image)


def test_half_precision_activations_are_clamped_as_on_the_gpu_and_float32_ones_are_not():
    torch.manual_seed(0)
    layer = Conv2d(4, 4, 3)
    x = torch.randn(1, 4, 8, 8) * 1e4
    assert layer(x).abs().max() > 1000
    assert layer(x.to(torch.bfloat16)).abs().max() == FP16_CLAMP


def test_the_bfloat16_path_trains_r1_and_path_length_gradients_are_finite():
    torch.manual_seed(0)
    G, D = tiny_G(num_fp16_res=2), tiny_D(num_fp16_res=2)
    with bfloat16_on_cpu():
        real = torch.rand(4, 3, 16, 16, requires_grad=True) * 2 - 1
        (r1,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
        ws = G.mapping(torch.randn(4, 16), None)
        fakes = G.synthesis(ws)
        (pl,) = torch.autograd.grad((fakes * torch.randn_like(fakes)).sum(), ws,
                                    create_graph=True)
        (r1.square().sum() + pl.square().sum() + D(fakes).sum()).backward()
    grads = [p.grad for p in [*G.parameters(), *D.parameters()] if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_rebuild_from_init_kwargs():
    torch.manual_seed(0)
    G, D = tiny_G(c_dim=2), tiny_D(c_dim=2)
    for net, cls in ((G, Generator), (D, Discriminator)):
        kwargs = json.loads(json.dumps(net.init_kwargs))   # plain builtins only
        copy = cls(**kwargs)
        copy.load_state_dict(net.state_dict())
        assert all(torch.equal(a, b) for a, b in
                   zip(net.state_dict().values(), copy.state_dict().values(), strict=True))
    c = F.one_hot(torch.tensor([1]), 2).float()
    z = torch.randn(1, 16)
    G2 = Generator(**G.init_kwargs)
    G2.load_state_dict(G.state_dict())
    assert torch.equal(G(z, c, noise_mode="const"), G2(z, c, noise_mode="const"))


@pytest.mark.parametrize("resample", [upsample2x, downsample2x])
def test_the_low_pass_filter_s_gpu_form_double_backward_is_a_few_convolutions_whatever_the_channels(
        resample):
    """R1 and the path-length penalty differentiate twice through every resampling. A
    depthwise (grouped) convolution's double backward runs one convolution per channel, which
    on a GPU made a path-length step 40 times a plain one."""
    x = torch.randn(2, 64, 8, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(resample(x, depthwise=False).square().sum(), x,
                                  create_graph=True)
    with torch.profiler.profile() as profile:
        grad.square().sum().backward()
    convolutions = sum(e.count for e in profile.key_averages() if e.key == "aten::convolution")
    assert 0 < convolutions <= 4


@pytest.mark.parametrize("resample", [upsample2x, downsample2x])
def test_both_forms_of_the_low_pass_filter_compute_the_same_values_and_gradients(resample):
    """The CPU's depthwise form (the faster one there) and the GPU's single-channel form are
    the same filter: a model trained on one device renders the same on the other."""
    x = torch.randn(2, 5, 8, 8, dtype=torch.float64, requires_grad=True)
    outputs, grads = [], []
    for depthwise in (True, False):
        y = resample(x, depthwise=depthwise)
        (grad,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        outputs.append(y)
        grads.append(torch.autograd.grad(grad.square().sum(), x)[0])
    torch.testing.assert_close(outputs[0], outputs[1])
    torch.testing.assert_close(grads[0], grads[1])
    assert torch.equal(resample(x), outputs[0])   # the CPU's default is the depthwise form
