"""style/dream_nets.py: DeepDream on the FID Inception file and on the pipeline's encoder (its
stages and label classes), each told from its file, with clear errors for foreign files and
images too small for a layer."""

from __future__ import annotations

import pytest
import torch

from evaluate.encoder import Encoder, save_encoder
from evaluate.inception import FIDInceptionV3
from marcus.errors import UserError
from style.dream import DreamSettings, activation_gradient, dream
from style.dream_nets import EncoderDreamNet, InceptionDreamNet, load_dream_net
from style.features import FeatureNet
from tests.style.test_dream_and_zentangle import _image, climb


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "encoder"
    folder.mkdir()
    save_encoder(Encoder(input_px=32, widths=(16, 32), embed_dim=32, projection_dim=16,
                         label_classes={"period_id": [0, 1, 2]}), folder / "encoder.pt")
    return folder


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "pt_inception.pth"
    torch.save(FIDInceptionV3().state_dict(), path)
    return path


def test_the_encoders_folder_or_file_loads_with_its_stages_and_label_classes(encoder_folder):
    for path in (encoder_folder, encoder_folder / "encoder.pt"):
        net = load_dream_net(path)
        assert isinstance(net, EncoderDreamNet)
        assert net.names == ["stage0", "stage1", "stage2", "embedding", "period_id=0",
                             "period_id=1", "period_id=2"]
        assert len(net.card["sha256"]) == 64 and net.card["layout"] == "marcus-encoder"
    feats = net(_image(0, 40, 48), ["stage1", "period_id=2"])
    assert feats["stage1"].shape == (1, 16, 20, 24)
    assert feats["period_id=2"].shape == (1,) and float(feats["period_id=2"]) < 0  # a log-prob


def test_dreaming_on_a_label_class_raises_the_encoders_belief_in_it(encoder_folder):
    net = load_dream_net(encoder_folder)
    image = _image(1, 64, 48)
    settings = DreamSettings(layers=("period_id=2",), octaves=2, steps_per_octave=20, max_px=64,
                             jitter_px=8, step_size=0.02)
    before, after, out = climb(net, image, settings)
    assert out.shape == image.shape
    assert after > before + 0.1, (before, after)      # log-probability
    assert torch.equal(out, dream(image, net, settings))


def test_the_fid_inception_file_loads_and_dreams_on_its_blocks(inception_file):
    net = load_dream_net(inception_file)
    assert isinstance(net, InceptionDreamNet) and net.names[0] == "Conv2d_1a_3x3"
    image = _image(2, 96, 80)
    settings = DreamSettings(layers=("Mixed_5b",), octaves=1, steps_per_octave=4, max_px=96,
                             jitter_px=4, step_size=0.02)
    before, after, _ = climb(net, image, settings)
    assert after > before, (before, after)


def test_an_image_too_small_for_a_layer_is_refused_with_what_to_change(inception_file):
    net = load_dream_net(inception_file)
    settings = DreamSettings(layers=("Mixed_7c",), octaves=1, steps_per_octave=1, max_px=48)
    with pytest.raises(UserError, match="too small to reach Inception's Mixed_7c .*: raise max_px"):
        dream(_image(0, 48, 48), net, settings)


def test_foreign_files_and_unknown_layers_are_refused_clearly(tmp_path, inception_file,
                                                             encoder_folder):
    state = torch.load(inception_file, weights_only=True)
    state["AuxLogits.fc.weight"] = torch.zeros(1000, 768)     # torchvision's ImageNet file
    torch.save(state, tmp_path / "inception_v3_google.pth")
    with pytest.raises(UserError, match="unexpected keys: AuxLogits.fc.weight"):
        load_dream_net(tmp_path / "inception_v3_google.pth")
    with pytest.raises(UserError, match="no feature network file"):
        load_dream_net(tmp_path / "absent.pth")
    net = load_dream_net(encoder_folder)
    with pytest.raises(UserError, match=r"dream layers \['period_id=9'\]: choose among"):
        DreamSettings(layers=("period_id=9",)).check(net)


def test_tiles_of_a_net_that_cannot_be_tiled_exactly_each_climb_their_own_objective(
        encoder_folder):
    net = load_dream_net(encoder_folder)
    image = _image(3, 112, 104)
    # tiles of 96 px: a 32 px core and 32 px of context on each side
    value, grad = activation_gradient(net, image, ("stage2",), tile_px=96)
    assert grad.shape == image.shape and torch.isfinite(grad).all()
    # the top-left tile's gradient is that of its own crop with 32 px of context
    crop = image[..., :64, :64].clone().requires_grad_(True)
    net(crop, ["stage2"])["stage2"].mean().backward()
    assert torch.allclose(grad[..., :32, :32], crop.grad[..., :32, :32])
    for top in (0, 32, 64):
        for left in (0, 32, 64):
            assert grad[..., top:top + 32, left:left + 32].abs().sum() > 0
    assert not isinstance(net, FeatureNet)
