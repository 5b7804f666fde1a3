"""The prints' pixel lattice as the evaluate stage reports it (evaluate/prints.py): a print
against the same picture enlarged by Lanczos, on real files in the formats render writes."""

import numpy as np
from PIL import Image

from evaluate.prints import CROP_PX, prints_section
from tests.evaluate.test_lattice import enlarged_painting, with_lattice


def save(folder, name, image: np.ndarray, fmt: str = "PNG") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / name, format=fmt, dpi=(300, 300))


def test_a_print_with_a_planted_lattice_stands_above_its_lanczos_reference_and_a_clean_one_does_not(
        tmp_path):
    clean = enlarged_painting("landscape", 1, side_px=768)        # 128 px source, x6
    save(tmp_path / "prints", "seed0000.png", clean)
    save(tmp_path / "prints", "seed0001.tif", with_lattice(clean, period_px=4, amplitude=2), "TIFF")
    section = prints_section(tmp_path / "prints", 128, tmp_path / "crops.png")
    scored = section["prints"]
    assert scored["seed0000"]["excess_db"] < section["goal_excess_db"]
    assert scored["seed0001"]["excess_db"] > 10
    # A harmonic of the planted period: a multiple of 1/4 cycle per pixel along both axes.
    assert np.allclose(np.array(scored["seed0001"]["cycles_per_px"]) * 4 % 1, 0, atol=1e-3)
    assert section["max_excess_db"] == scored["seed0001"]["excess_db"]
    assert scored["seed0000"]["width"] == 768
    # The report's figure: both prints' central crops at 100 %, each beside its reference.
    crops = np.asarray(Image.open(tmp_path / "crops.png"))
    assert crops.shape[0] == 2 * CROP_PX + 8 and crops.shape[1] == 2 * CROP_PX + 8
    top, left = (768 - CROP_PX) // 2, (768 - CROP_PX) // 2
    assert np.array_equal(crops[:CROP_PX, :CROP_PX], clean[top:top + CROP_PX, left:left + CROP_PX])


def test_a_print_smaller_than_a_patch_is_scored_in_one_smaller_patch(tmp_path):
    clean = enlarged_painting("portrait", 2, side_px=200)
    save(tmp_path / "prints", "seed0000.png", with_lattice(clean, period_px=4, amplitude=2))
    scored = prints_section(tmp_path / "prints", 128, tmp_path / "crops.png")["prints"]
    assert scored["seed0000"]["patch_px"] == 200 and scored["seed0000"]["excess_db"] > 10


def test_no_prints_and_prints_too_large_or_too_small_are_said_not_scored(tmp_path):
    assert "no prints in" in prints_section(tmp_path / "none", 32, tmp_path / "a.png")["skipped"]
    save(tmp_path / "tiny", "seed0000.png", np.zeros((40, 400, 3), np.uint8))
    section = prints_section(tmp_path / "tiny", 32, tmp_path / "a.png")
    assert section["prints"]["seed0000"] == {"skipped": "400x40 px is less than 64 px on a side"}
    save(tmp_path / "prints", "seed0000.png", np.zeros((300, 400, 3), np.uint8))
    (tmp_path / "prints" / "notes.txt").write_text("not a print")
    section = prints_section(tmp_path / "prints", 32, tmp_path / "b.png", max_pixels=100_000)
    assert section["prints"] == {"seed0000": {"skipped": "400x300 px is more than 100,000 pixels"}}
    assert "max_excess_db" not in section and not (tmp_path / "b.png").exists()
