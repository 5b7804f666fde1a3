"""style/transfer.py: Gatys transfer coarse to fine with a seeded random VGG (tiny, fast): it
moves the image towards the style, reproduces, resumes per scale, and keeps colours, regions
and settings as asked."""

from __future__ import annotations

import pytest
import torch

from marcus.errors import UserError
from style import transfer
from style.features import random_feature_net
from style.transfer import Objective, Style, TransferSettings, rgb_to_yiq, scales, stylize

NET = random_feature_net(seed=0, depth=16, width_divisor=8)
FAST = TransferSettings(min_px=32, max_px=48, steps_per_scale=(15,),
                        style_layers=("relu1_1", "relu2_1", "relu3_1"),
                        content_layers=("relu3_1",))


def _content(h: int = 48, w: int = 40) -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    disc = ((y - 0.5) ** 2 + (x - 0.5) ** 2 < 0.08).float()
    return torch.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 * (1 - disc) + 0.4 * disc])[None]


def _stripes(colour: tuple[float, float, float], seed: int, size: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(size).float()
    stripes = (torch.sin(x / 1.5)[None, :] * torch.ones(size, 1) + 1) / 2
    base = torch.tensor(colour).view(3, 1, 1) * (0.5 + 0.5 * stripes)
    return (base + 0.1 * torch.rand(3, size, size, generator=g)).clamp(0, 1)[None]


def test_scales_grow_by_the_square_root_of_two_up_to_the_largest():
    assert scales(1000, 128, 512) == [128, 181, 256, 362, 512]
    assert scales(300, 128, 512) == [128, 181, 256, 300]       # never above the content
    assert scales(100, 128, 512) == [100]


def test_the_style_distance_falls_far_below_the_contents_own():
    content, style = _content(), _stripes((0.9, 0.2, 0.1), seed=1)
    settings = TransferSettings(**{**FAST.__dict__, "steps_per_scale": (40,)})
    out = stylize(content, [Style(style)], NET, settings)
    objective = Objective(NET, content, [Style(style)], settings, None)
    _, before = objective.loss(content)
    _, after = objective.loss(out)
    assert after["style"] < 0.3 * before["style"], (before, after)
    assert out.shape == content.shape and out.min() >= 0 and out.max() <= 1


def test_a_pyramid_of_octaves_starts_at_the_start_image_and_stops_at_16_px():
    start = _content(48, 40)
    pyramid = transfer.PyramidImage(start, levels=5)
    # 48x40, 24x20; 12x10 would be below 16 px on its short side
    assert [tuple(o.shape[-2:]) for o in pyramid.octaves] == [(48, 40), (24, 20)]
    assert torch.equal(pyramid.image(), start)
    with torch.no_grad():
        pyramid.octaves[1].fill_(0.2)     # a coarse octave moves the whole image, by half
    assert torch.allclose(pyramid.image(), start + 0.1, atol=1e-6)


def test_a_spectrum_of_the_change_starts_at_the_start_image_and_moves_it_linearly():
    start = _content(48, 40)
    spectrum = transfer.SpectrumImage(start, decay=1.0)
    assert spectrum.spectrum.shape == (1, 3, 48, 21, 2)      # rfft2 of 48x40, real and imaginary
    assert torch.equal(spectrum.image(), start)
    with torch.no_grad():
        spectrum.spectrum[0, :, 0, 0, 0] = 1.0                # the mean of every channel
    one = spectrum.image() - start
    assert one.std(dim=(2, 3)).max() < 1e-6                   # moves the whole image alike
    assert one.mean() > 0
    with torch.no_grad():
        spectrum.spectrum.mul_(-2)
    assert torch.allclose(spectrum.image() - start, -2 * one, atol=1e-6)


def test_the_spectrums_colour_mixing_follows_how_the_start_images_colours_vary():
    grey = _content()[:, :1].expand(1, 3, 48, 40).contiguous()    # one colour axis: grey
    root = transfer.colour_square_root(grey)
    assert torch.allclose(root, torch.ones(3, 3), atol=1e-2)      # a change moves grey only
    noise = torch.rand(1, 3, 200, 200, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(transfer.colour_square_root(noise), torch.eye(3), atol=0.05)


def test_optimising_pyramid_octaves_or_the_spectrum_lowers_the_style_distance_as_pixels_do():
    content, style = _content(), _stripes((0.9, 0.2, 0.1), seed=1)
    objective = Objective(NET, content, [Style(style)], FAST, None)
    before = objective.loss(content)[1]
    for variables, levels in (("pyramid", 1), ("pyramid", 3), ("spectrum", 1)):
        settings = TransferSettings(**{**FAST.__dict__, "steps_per_scale": (40,),
                                       "variables": variables, "pyramid_levels": levels})
        out = stylize(content, [Style(style)], NET, settings)
        after = objective.loss(out)[1]
        assert after["style"] < 0.3 * before["style"], (variables, levels, before, after)
        assert out.min() >= 0 and out.max() <= 1


def test_adam_also_lowers_the_loss():
    content, style = _content(), _stripes((0.1, 0.3, 0.9), seed=2)
    settings = TransferSettings(**{**FAST.__dict__, "optimizer": "adam", "lr": 0.03,
                                   "steps_per_scale": (30,)})
    objective = Objective(NET, content, [Style(style)], settings, None)
    out = stylize(content, [Style(style)], NET, settings)
    assert objective.loss(out)[1]["total"] < 0.7 * objective.loss(content)[1]["total"]


def test_the_same_inputs_and_settings_give_the_same_bytes():
    content, style = _content(), _stripes((0.9, 0.2, 0.1), seed=1)
    a = stylize(content, [Style(style)], NET, FAST)
    b = stylize(content, [Style(style)], NET, FAST)
    assert torch.equal(a, b)
    noise = TransferSettings(**{**FAST.__dict__, "init": "noise", "seed": 3})
    assert torch.equal(stylize(content, [Style(style)], NET, noise),
                       stylize(content, [Style(style)], NET, noise))


def test_a_run_stopped_after_a_scale_continues_from_its_checkpoint_to_the_same_result(
        tmp_path, monkeypatch):
    content, style = _content(64, 56), _stripes((0.9, 0.2, 0.1), seed=1)
    settings = TransferSettings(**{**FAST.__dict__, "max_px": 64, "steps_per_scale": (8,)})
    clean_log = []
    clean = stylize(content, [Style(style)], NET, settings,
                    log=lambda i, side, parts: clean_log.append((i, side, parts)))

    def stop_after_first(index, long_side, parts):
        if index == 0:
            raise KeyboardInterrupt  # as a kill would, after the scale's checkpoint
    with pytest.raises(KeyboardInterrupt):
        stylize(content, [Style(style)], NET, settings, checkpoint_dir=tmp_path / "run",
                log=stop_after_first)
    assert [p.name for p in sorted((tmp_path / "run").iterdir())] == ["scale00_32px.pt"]
    optimised = []
    real_optimise = transfer.optimise
    monkeypatch.setattr(transfer, "optimise", lambda objective, start, *a, **k: (
        optimised.append(start.shape[-2:]), real_optimise(objective, start, *a, **k))[1])
    resumed_log = []
    resumed = stylize(content, [Style(style)], NET, settings, checkpoint_dir=tmp_path / "run",
                      log=lambda i, side, parts: resumed_log.append((i, side, parts)))
    assert [max(hw) for hw in optimised] == [45, 64]    # the first scale was not run again
    assert torch.equal(resumed, clean)
    assert resumed_log == clean_log      # its losses come back from the checkpoint, too
    # A later scale's checkpoint lost (or never written): that scale runs again, same result.
    (tmp_path / "run" / "scale02_64px.pt").unlink()
    again = stylize(content, [Style(style)], NET, settings, checkpoint_dir=tmp_path / "run")
    assert torch.equal(again, clean)


def test_checkpoints_of_other_images_or_damaged_ones_are_ignored_and_replaced(tmp_path,
                                                                              monkeypatch):
    content, style = _content(), _stripes((0.9, 0.2, 0.1), seed=1)
    stylize(content, [Style(style)], NET, FAST, checkpoint_dir=tmp_path / "run")
    other = _stripes((0.1, 0.9, 0.1), seed=1)
    fresh = stylize(content, [Style(other)], NET, FAST)
    assert torch.equal(stylize(content, [Style(other)], NET, FAST,
                               checkpoint_dir=tmp_path / "run"), fresh)
    (tmp_path / "run" / "scale00_32px.pt").write_bytes(b"torn")
    assert torch.equal(stylize(content, [Style(other)], NET, FAST,
                               checkpoint_dir=tmp_path / "run"), fresh)
    # ... and what was written in their place is resumed from: nothing is optimised again
    monkeypatch.setattr(transfer, "optimise", lambda *a, **k: pytest.fail("optimised again"))
    assert torch.equal(stylize(content, [Style(other)], NET, FAST,
                               checkpoint_dir=tmp_path / "run"), fresh)


def _octave_spread(image: torch.Tensor) -> torch.Tensor:
    """Each channel's standard deviation in the finest octave (the image less its blur)."""
    blurred = torch.nn.functional.avg_pool2d(image, 2)
    enlarged = torch.nn.functional.interpolate(blurred, size=image.shape[-2:], mode="bilinear",
                                               align_corners=False)
    return (image - enlarged).std(dim=(0, 2, 3))


def test_a_matched_start_takes_the_styles_colours_and_contrast_and_keeps_the_contents_layout():
    noise = torch.rand((1, 3, 96, 80), generator=torch.Generator().manual_seed(5))
    content = (_content(96, 80) + 0.08 * (noise - 0.5)).clamp(0, 1)     # some fine texture
    style = _stripes((0.9, 0.2, 0.1), seed=1, size=96)
    start = transfer.matched_start(content, [Style(style)])
    assert start.shape == content.shape and start.min() >= 0 and start.max() <= 1
    # colours: the style's mean, not the content's
    mean = start.mean(dim=(0, 2, 3))
    assert (mean - style.mean(dim=(0, 2, 3))).abs().max() < 0.05
    assert (mean - content.mean(dim=(0, 2, 3))).abs().max() > 0.15
    # contrast: the content's fine octave gets the striped style's spread
    spread, wanted = _octave_spread(start), _octave_spread(style)
    assert ((spread - wanted).abs() / wanted).max() < 0.25, (spread, wanted)
    assert ((_octave_spread(content) - wanted).abs() / wanted).max() > 0.25
    # layout: the disc is where it was
    y_start, y_content = rgb_to_yiq(start)[0, 0], rgb_to_yiq(content)[0, 0]
    assert torch.corrcoef(torch.stack([y_start.flatten(), y_content.flatten()]))[0, 1].abs() > 0.6
    # the style distance is lower before any step, and a run from it reproduces
    objective = Objective(NET, content, [Style(style)], FAST, None)
    assert objective.loss(start)[1]["style"] < 0.5 * objective.loss(content)[1]["style"]
    matched = TransferSettings(**{**FAST.__dict__, "init": "matched"})
    assert torch.equal(stylize(content, [Style(style)], NET, matched),
                       stylize(content, [Style(style)], NET, matched))


def test_a_matched_start_blends_several_styles_by_weight_and_leaves_a_flat_image_finite():
    content = _content()
    red, blue = _stripes((0.9, 0.1, 0.1), seed=1), _stripes((0.1, 0.1, 0.9), seed=2)
    redness = [float((lambda s: s[0, 0].mean() - s[0, 2].mean())(transfer.matched_start(
        content, [Style(red, weight=w), Style(blue, weight=1 - w)]))) for w in (0.9, 0.5, 0.1)]
    assert redness[0] > 0.3 and redness[2] < -0.3 and abs(redness[1]) < 0.15, redness
    flat = torch.full((1, 3, 40, 40), 0.5)
    start = transfer.matched_start(flat, [Style(red)])
    assert torch.isfinite(start).all() and start.min() >= 0 and start.max() <= 1
    # a style smaller than the content's octaves lends the octaves it has
    tiny = _stripes((0.2, 0.8, 0.2), seed=3, size=20)
    assert torch.isfinite(transfer.matched_start(_content(96, 96), [Style(tiny)])).all()


@pytest.mark.parametrize("init", ["content", "matched"])
@pytest.mark.parametrize("colour", ["original", "luminance"])
def test_colour_modes_keep_the_contents_chroma(colour, init):
    content, style = _content(), _stripes((0.9, 0.1, 0.1), seed=1)
    settings = TransferSettings(**{**FAST.__dict__, "colour": colour, "init": init})
    out = stylize(content, [Style(style)], NET, settings)
    plain = stylize(content, [Style(style)], NET, FAST)
    chroma = rgb_to_yiq(content)[:, 1:]
    kept = (rgb_to_yiq(out)[:, 1:] - chroma).abs().mean()
    transferred = (rgb_to_yiq(plain)[:, 1:] - chroma).abs().mean()
    assert kept < 0.02 < transferred, (kept, transferred)


def test_masked_styles_paint_their_own_regions():
    content = _content(48, 48)
    red, blue = _stripes((0.95, 0.1, 0.1), seed=1), _stripes((0.1, 0.1, 0.95), seed=2)
    left = torch.zeros(48, 48)
    left[:, :24] = 1
    settings = TransferSettings(**{**FAST.__dict__, "steps_per_scale": (40,),
                                   "content_weight": 0.1})
    out = stylize(content, [Style(red, mask=left), Style(blue, mask=1 - left)], NET, settings)
    redness = out[0, 0] - out[0, 2]
    assert redness[:, 4:20].mean() > redness[:, 28:44].mean() + 0.2


def test_bad_settings_are_refused_before_any_work():
    content, style = _content(), _stripes((0.9, 0.2, 0.1), seed=1)
    for change, message in (({"style_loss": "cosine"}, "style_loss must be one of"),
                            ({"min_px": 8}, "min_px"),
                            ({"steps_per_scale": ()}, "steps_per_scale"),
                            ({"colour": "sepia"}, "colour must be one of"),
                            ({"pyramid_levels": 0}, "pyramid_levels must be at least 1"),
                            ({"variables": "wavelets"}, "variables must be one of"),
                            ({"spectrum_decay": -1.0}, "spectrum_decay must be in"),
                            ({"init": "photo"}, "init must be one of")):
        with pytest.raises(UserError, match=message):
            stylize(content, [Style(style)], NET,
                    TransferSettings(**{**FAST.__dict__, **change}))
    with pytest.raises(UserError, match="no style image"):
        stylize(content, [], NET, FAST)
    with pytest.raises(UserError, match=r"images must be \[1, 3, H, W\]"):
        stylize(content[0], [Style(style)], NET, FAST)
