"""python -m style transfer: files or a collection query in, a PNG and its card out, the same
bytes twice; a print-size result through the upscaler chain with its dpi recorded."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from marcus.model_files import save_model_file
from style.__main__ import main
from style.features import FeatureNet
from train.upscaler import UPSCALER, CompactSR

pytestmark = pytest.mark.e2e


def _png(path, seed: int, size=(40, 48)) -> str:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).resize(size, Image.Resampling.NEAREST).save(path)
    return str(path)


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A full-size VGG16 in torchvision's layout with seeded random weights."""
    net, g = FeatureNet(16), torch.Generator().manual_seed(0)
    state, index = {}, 0
    for n in (2, 2, 3, 3, 3):
        for _ in range(n):
            conv = list(net.convs.values())[len(state) // 2]
            state[f"features.{index}.weight"] = torch.randn(
                conv.weight.shape, generator=g) * (2 / conv.weight[0].numel()) ** 0.5
            state[f"features.{index}.bias"] = torch.zeros(conv.out_channels)
            index += 2
        index += 1
    for i in (0, 3, 6):
        state[f"classifier.{i}.weight"], state[f"classifier.{i}.bias"] = (torch.zeros(1, 1),
                                                                          torch.zeros(1))
    path = tmp_path_factory.mktemp("net") / "vgg16-random.pth"
    torch.save(state, path)
    return str(path)


def _args(tmp_path, vgg16_file, out: str, *extra: str) -> list[str]:
    return ["transfer", "--content", _png(tmp_path / "content.png", 1),
            "--style", _png(tmp_path / "style.png", 2, size=(64, 64)),
            "--network", vgg16_file, "--min-px", "32", "--max-px", "48",
            "--steps-per-scale", "6", "--style-layers", "relu1_1,relu2_1,relu3_1",
            "--content-layers", "relu3_1", "--out", str(tmp_path / out), *extra]


def test_a_transfer_writes_its_image_and_card_and_the_same_bytes_twice(tmp_path, vgg16_file):
    assert main(_args(tmp_path, vgg16_file, "a.png")) == 0
    assert main(_args(tmp_path, vgg16_file, "b.png")) == 0
    a, b = (tmp_path / "a.png").read_bytes(), (tmp_path / "b.png").read_bytes()
    assert a == b
    with Image.open(io.BytesIO(a)) as image:
        assert image.size == (40, 48)
    card = json.loads((tmp_path / "a.json").read_text())
    assert card["network"]["layout"] == "torchvision" and card["network"]["depth"] == 16
    assert card["network"]["sha256"] == hashlib.sha256(
        open(vgg16_file, "rb").read()).hexdigest()
    style_sha = hashlib.sha256((tmp_path / "style.png").read_bytes()).hexdigest()
    assert card["styles"] == [{"file": str(tmp_path / "style.png"), "sha256": style_sha,
                               "weight": 1.0}]
    assert [s["long_side"] for s in card["losses"]] == [32, 45, 48]
    assert card["settings"]["style_layers"] == ["relu1_1", "relu2_1", "relu3_1"]
    assert {"swd_to_style", "swd_content_to_style", "ssim_y_quarter"} <= set(card["scores"])


def test_with_an_upscaler_the_result_reaches_print_size_with_its_dpi(tmp_path, vgg16_file):
    folder = tmp_path / "upscaler"
    folder.mkdir()
    model = CompactSR(factor=2, channels=4, body_convs=1)
    save_model_file(folder / "upscaler.pt", UPSCALER, model, model.init_kwargs)
    assert main(_args(tmp_path, vgg16_file, "print.png", "--upscaler", str(folder),
                      "--inches", "1", "--dpi", "150")) == 0
    with Image.open(tmp_path / "print.png") as image:
        assert max(image.size) == 150
        assert round(image.info["dpi"][0]) == 150
    card = json.loads((tmp_path / "print.json").read_text())
    assert card["print_px"] == [150, 125] and card["dpi"] == 150


def test_user_mistakes_exit_with_a_message_and_no_traceback(tmp_path, vgg16_file, capsys):
    args = _args(tmp_path, vgg16_file, "x.png")
    without_style = [a for i, a in enumerate(args) if a != "--style"
                     and (i == 0 or args[i - 1] != "--style")]
    assert main(without_style) == 2
    assert "give --style FILE or --style-query QUERY" in capsys.readouterr().err
    assert main([*args, "--style-loss", "cosine"]) == 2
    assert "style_loss must be one of" in capsys.readouterr().err
    assert main([*args[:-2], "--out", str(tmp_path / "y.png"), "--blend", "1,2"]) == 2
    assert "--blend has 2 weights for 1 styles" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_print_config_shows_the_resolved_settings_and_does_nothing(tmp_path, vgg16_file,
                                                                    capsys):
    assert main([*_args(tmp_path, vgg16_file, "z.png"), "--print-config"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["settings"]["max_px"] == 48 and shown["settings"]["steps_per_scale"] == [6]
    assert not (tmp_path / "z.png").exists()


def test_zentangle_and_dream_run_from_the_command_line(tmp_path, vgg16_file):
    shape = np.zeros((48, 40, 4), dtype=np.uint8)                 # a transparent sheet ...
    shape[8:40, 8:32] = (0, 0, 0, 255)                            # ... with an opaque square
    Image.fromarray(shape, "RGBA").save(tmp_path / "shape.png")
    common = ["--network", vgg16_file, "--min-px", "32", "--max-px", "48",
              "--steps-per-scale", "4", "--style-layers", "relu1_1,relu2_1",
              "--content-layers", "relu2_1"]
    assert main(["zentangle", "--silhouette", str(tmp_path / "shape.png"),
                 "--style", _png(tmp_path / "pattern.png", 3, size=(64, 64)),
                 "--background", "0,0,1", "--out", str(tmp_path / "zen.png"), *common]) == 0
    with Image.open(tmp_path / "zen.png") as image:
        pixels = np.asarray(image)
    assert pixels.shape == (48, 40, 3)
    assert tuple(pixels[2, 2]) == (0, 0, 255)                     # outside: the background
    assert tuple(pixels[24, 20]) != (0, 0, 255)
    card = json.loads((tmp_path / "zen.json").read_text())
    assert card["command"] == "zentangle" and card["background"] == "0,0,1"

    assert main(["dream", "--image", str(tmp_path / "pattern.png"), "--network", vgg16_file,
                 "--layers", "relu3_1", "--octaves", "2", "--steps-per-octave", "3",
                 "--max-px", "48", "--out", str(tmp_path / "dream.png")]) == 0
    card = json.loads((tmp_path / "dream.json").read_text())
    assert card["command"] == "dream" and [o["octave"] for o in card["objective"]] == [0, 1]
    with Image.open(tmp_path / "dream.png") as image:
        assert image.size == (48, 48)


def test_dream_climbs_a_label_class_of_the_pipelines_encoder(tmp_path):
    from evaluate.encoder import Encoder, save_encoder

    (tmp_path / "encoder").mkdir()
    torch.manual_seed(0)
    save_encoder(Encoder(widths=(16, 32), embed_dim=32, projection_dim=16,
                         label_classes={"period_id": [0, 1]}), tmp_path / "encoder/encoder.pt")
    assert main(["dream", "--image", _png(tmp_path / "photo.png", 4, size=(64, 48)),
                 "--network", str(tmp_path / "encoder"), "--layers", "period_id=1",
                 "--octaves", "2", "--steps-per-octave", "3", "--max-px", "64",
                 "--out", str(tmp_path / "period.png")]) == 0
    card = json.loads((tmp_path / "period.json").read_text())
    assert card["network"]["layout"] == "marcus-encoder" and len(card["network"]["sha256"]) == 64
    assert card["settings"]["layers"] == ["period_id=1"]
    with Image.open(tmp_path / "period.png") as image:
        assert image.size == (64, 48)
