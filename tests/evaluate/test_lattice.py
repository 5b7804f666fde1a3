import numpy as np
import pytest
from PIL import Image

from demo.painter import Style, paint
from evaluate.lattice import lattice_peak


def enlarged_painting(kind: str, seed: int, side_px: int = 1024) -> np.ndarray:
    """A demo painting at 128 px, enlarged by Lanczos to ``side_px``: no lattice of its own."""
    painting = paint(kind, Style.random(np.random.default_rng(seed)), seed, (256, 256))
    small = painting.resize((128, 128), Image.Resampling.BOX)
    return np.asarray(small.resize((side_px, side_px), Image.Resampling.LANCZOS))


def with_lattice(image: np.ndarray, period_px: int, amplitude: float) -> np.ndarray:
    """``image`` with a faint dot every ``period_px`` pixels in both directions, the pattern
    a pixel-shuffle layer prints in every output cell."""
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    dots = ((yy % period_px == 0) & (xx % period_px == 0)) * amplitude
    return np.clip(np.rint(image + dots[..., None]), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind,seed", [("landscape", 1), ("portrait", 2), ("still_life", 3)])
def test_a_planted_lattice_stands_far_above_a_lanczos_enlargement_and_is_found_where_planted(
        kind, seed):
    clean = enlarged_painting(kind, seed)
    planted = with_lattice(clean, period_px=4, amplitude=2)  # 2 of 255 grey levels
    before, after = lattice_peak(clean), lattice_peak(planted)
    assert before.db < 25
    assert after.db > before.db + 15
    # The peak is a harmonic of the planted period: a multiple of 1/4 cycle per pixel.
    assert np.allclose(np.array(after.cycles_per_px) * 4 % 1, 0, atol=1e-9)


def test_the_score_is_a_ratio_to_the_neighbourhood_so_contrast_and_brightness_leave_it():
    clean = enlarged_painting("seascape", 4).astype(np.float64) / 255
    darker = 0.1 + 0.5 * clean
    assert abs(lattice_peak(clean).db - lattice_peak(darker).db) < 1e-6


def test_a_picture_smaller_than_one_patch_is_refused_with_its_size():
    with pytest.raises(ValueError, match="100x80 picture is smaller than one 256 px patch"):
        lattice_peak(np.zeros((80, 100, 3), np.uint8))
