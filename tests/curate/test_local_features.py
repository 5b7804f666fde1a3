"""curate.local_features: SIFT features of one image, stored as bytes, and the geometric check
that two images show the same picture; on the demo painter's pictures, transformed the way
real copies are."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from PIL import Image

from curate import local_features as lf
from curate.hashing import hash_files
from demo import painter, transforms
from marcus.errors import UserError
from tests.images import encode, write


def _painting(kind: str, seed: int, variant: int = 0) -> Image.Image:
    style = painter.Style.random(np.random.default_rng(seed))
    return painter.paint(kind, style, seed, (800, 600), variant=variant)


@pytest.fixture(scope="module")
def original() -> Image.Image:
    return _painting("landscape", 7)


@pytest.fixture(scope="module")
def original_features(original) -> lf.LocalFeatures:
    return lf.extract(encode(original, "JPEG", quality=90))


def _perspective(img: Image.Image) -> Image.Image:
    """The picture photographed at an angle: one side nearer the camera than the other."""
    return img.transform(img.size, Image.Transform.PERSPECTIVE,
                         (1.1, 0.15, -60, 0.05, 1.05, -30, 1e-4, 5e-5), Image.Resampling.BICUBIC)


COPIES = {
    "reencoded smaller": lambda img: transforms.resize(img, 0.6),
    "a detail of a sixth of the picture": lambda img: img.crop((240, 180, 560, 420)),
    "mirrored": lambda img: img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "squashed": lambda img: transforms.squash(img, 0.7),
    "photographed at an angle": _perspective,
    "strongly colour-graded": lambda img: transforms.colour_grade(img, 1.8, 0.5, 0.5),
    "framed and watermarked": lambda img: transforms.watermark(
        transforms.add_frame(img, 0.1, "gilt", 3), "(c) Picture Library", 0.5),
}


def test_a_mirrored_images_descriptors_are_the_originals_permuted(original):
    gray = np.asarray(original.convert("L"))
    plain = lf.extract_gray(gray, lf.FeatureOptions())
    mirrored = lf.extract_gray(np.ascontiguousarray(gray[:, ::-1]), lf.FeatureOptions())
    derived = plain.mirrored()
    # Each keypoint of the derived set against the mirrored image's own keypoints: where one
    # lies at the same place, the nearest descriptor of all must be one at that place (a
    # place can hold several keypoints, one per dominant orientation).
    same_place = agree = 0
    for xy, desc in zip(derived.xy, derived.desc.astype(np.float32), strict=True):
        distance = np.hypot(*(mirrored.xy - xy).T)
        if distance.min() < 1.0:
            same_place += 1
            nearest = np.argmin(np.linalg.norm(mirrored.desc - desc, axis=1))
            agree += int(distance[nearest] < 1.0)
    assert same_place > 600
    assert agree / same_place > 0.9


def test_features_survive_a_round_trip_through_bytes(original_features):
    again = lf.LocalFeatures.from_bytes(original_features.to_bytes())
    assert again.size == original_features.size == (512, 384)
    assert np.array_equal(again.xy, original_features.xy)
    assert np.array_equal(again.desc, original_features.desc)
    assert len(original_features.to_bytes()) == 12 + 136 * len(original_features)


def test_bytes_that_are_not_features_are_refused_with_a_reason(original_features):
    data = original_features.to_bytes()
    with pytest.raises(ValueError, match="not local features"):
        lf.LocalFeatures.from_bytes(b"JUNK" + data[4:])
    with pytest.raises(ValueError, match="take .* bytes"):
        lf.LocalFeatures.from_bytes(data[:-1])


def test_extraction_keeps_its_keypoints_in_a_fixed_order_the_strongest_first_unspread(original):
    data = encode(original, "JPEG", quality=90)
    strongest = functools.partial(lf.FeatureOptions, spread_cells=1)
    few, again = (lf.extract(data, strongest(max_keypoints=k)) for k in (100, 1000))
    assert len(few) == 100 and len(again) > 500
    assert np.array_equal(few.xy, again.xy[:100])  # the strongest first
    assert lf.extract(data).to_bytes() == lf.extract(data).to_bytes()


def test_the_keypoint_budget_is_spread_each_cells_strongest_before_any_cells_next():
    # Ten keypoints in the left half, strongest first, and two in the right half.
    xy = np.array([(10.0, 10.0 + i) for i in range(10)] + [(90.0, 10.0), (90.0, 20.0)],
                  np.float32)
    found = lf.LocalFeatures(xy, np.arange(12, dtype=np.uint8)[:, None].repeat(128, 1),
                             (100, 50))
    kept = lf.spread(found, 6, cells=2)
    assert kept.desc[:, 0].tolist() == [0, 10, 1, 11, 2, 3]  # turn by turn, then the rest
    assert lf.spread(found, 6, cells=1).desc[:, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert lf.spread(found, 20, cells=2) is found


def test_a_close_up_of_a_quiet_part_keeps_more_of_its_keypoints_spread(original):
    # The right half's contrast lowered: its keypoints are weaker than the left half's, and
    # the strongest thousand go mostly left.
    from PIL import ImageEnhance

    quiet = original.copy()
    quiet.paste(ImageEnhance.Contrast(original.crop((400, 0, 800, 600))).enhance(0.5),
                (400, 0))
    data, close_up = encode(quiet, "JPEG", quality=90), quiet.crop((550, 400, 750, 550))
    inliers = {cells: lf.match_pair(lf.extract(data, lf.FeatureOptions(spread_cells=cells)),
                                    lf.extract(encode(close_up, "JPEG", quality=90))).inliers
               for cells in (1, 8)}
    assert inliers[8] >= 20 and inliers[8] >= 1.5 * inliers[1], inliers


def test_a_small_image_is_enlarged_at_most_four_times_and_a_flat_one_has_no_keypoints():
    small = lf.extract(encode(_painting("portrait", 3).resize((200, 150)), "PNG"))
    assert small.size == (512, 384) and len(small) > 0
    tiny = lf.extract(encode(_painting("portrait", 3).resize((60, 45)), "PNG"))
    assert tiny.size == (240, 180)  # four times, not the working size
    flat = lf.extract(encode(Image.new("RGB", (300, 200), (120, 90, 60)), "PNG"))
    assert len(flat) == 0 and lf.LocalFeatures.from_bytes(flat.to_bytes()).size == (512, 341)
    assert lf.match_pair(flat, small).inliers == 0


def test_a_thumbnail_sized_copy_matches_its_original_better_enlarged_than_as_it_is(
        original, original_features):
    data = encode(original.resize((160, 120), Image.Resampling.LANCZOS), "JPEG", quality=85)
    enlarged = lf.match_pair(original_features, lf.extract(data))
    as_it_is = lf.match_pair(original_features, lf.extract_gray(
        lf.reduced_gray(data, lf.FeatureOptions().long_side_px), lf.FeatureOptions()))
    assert enlarged.inliers >= 40 and enlarged.inliers >= 2 * as_it_is.inliers, \
        (enlarged, as_it_is)


def _on_a_wall(picture: Image.Image, wall: Image.Image, at: tuple[int, int]) -> bytes:
    photograph = wall.copy()
    photograph.paste(picture, at)
    return encode(photograph, "JPEG", quality=90)


def test_a_picture_on_a_plain_wall_is_looked_at_again_and_placed_back_where_it_hangs(
        original, original_features):
    # The 800 x 600 painting takes 40 % of a 2000 x 1500 photograph's width: 205 px of the
    # photograph's 512 px decode.
    data = _on_a_wall(original, Image.new("RGB", (2000, 1500), (182, 176, 160)), (700, 450))
    again = lf.extract(data)
    once = lf.extract(data, lf.FeatureOptions(picture_region=False))
    assert again.size == once.size == (512, 384)
    found, before = lf.match_pair(original_features, again), lf.match_pair(
        original_features, once)
    assert found.inliers >= 200 and found.inliers >= 1.5 * before.inliers, (found, before)
    # The second look's keypoints are in the photograph's pixels: the original's 512 px
    # decode lands at 0.4 of its size, 700 and 450 px of 2000 in (pixel centres at integers).
    scale = 800 / 512 * 512 / 2000
    offset = np.array([700, 450]) * 512 / 2000 + 0.5 * scale - 0.5
    assert np.allclose(found.matrix[:2, :2], scale * np.eye(2), atol=0.01), found.matrix
    assert np.allclose(found.matrix[:2, 2], offset, atol=1.0), found.matrix


def test_a_picture_filling_its_image_or_on_a_patterned_wall_is_looked_at_once(original):
    def unchanged(data: bytes) -> bool:
        return lf.extract(data).to_bytes() == lf.extract(
            data, lf.FeatureOptions(picture_region=False)).to_bytes()

    assert unchanged(encode(original, "JPEG", quality=90))
    grain = np.random.default_rng(0).integers(0, 256, (500, 667, 3), dtype=np.uint8)
    patterned = Image.fromarray(grain).resize((2000, 1500), Image.Resampling.BICUBIC)
    assert unchanged(_on_a_wall(original, patterned, (700, 450)))
    # A flat image and one with few keypoints say nothing of where a picture is.
    assert unchanged(encode(Image.new("RGB", (2000, 1500), (182, 176, 160)), "PNG"))


@pytest.mark.parametrize("name", COPIES)
def test_a_copy_is_explained_by_one_transform(name, original, original_features):
    copy = lf.extract(encode(COPIES[name](original), "JPEG", quality=85))
    found = lf.match_pair(original_features, copy)
    assert found.inliers >= 40, found
    assert found.mirrored == (name == "mirrored")
    assert lf.inlier_coverage(found, original_features,
                              copy.mirrored() if found.mirrored else copy) >= 0.5


def test_other_paintings_and_other_versions_of_a_composition_find_no_transform(
        original_features):
    others = [_painting("landscape", 8), _painting("portrait", 9), _painting("landscape", 7, 1)]
    for other in others:
        found = lf.match_pair(original_features, lf.extract(encode(other, "JPEG", quality=90)))
        assert found.inliers < 20, found


def test_ransac_draws_enough_hypotheses_to_find_any_transform_that_could_change_the_verdict():
    # 20 of 30 matches explained by one transform, 3 per affine sample: drawn at random, the
    # number of hypotheses asked for finds an all-inlier sample as often as the confidence
    # says, and one fewer hypothesis per try falls short of it.
    needed = lf.hypotheses_needed(20, 30, 3, confidence=0.9)
    rng = np.random.default_rng(0)

    def found_share(hypotheses: int, tries: int = 20_000) -> float:
        samples = rng.random((tries, hypotheses, 30)).argsort(-1)[..., :3]
        return float((samples < 20).all(-1).any(-1).mean())

    assert found_share(needed) >= 0.9 - 0.01
    assert found_share(max(1, needed - 3)) < 0.9
    # Fewer matches than the transform needs: no transform can be found, none is sought. All
    # matches needed: any sample will do.
    assert lf.hypotheses_needed(21, 20, 3) is None
    assert lf.hypotheses_needed(20, 20, 4) == 1
    # The bound grows as the inliers get rarer, and the stricter the confidence.
    assert lf.hypotheses_needed(20, 40, 3) < lf.hypotheses_needed(20, 200, 3)
    assert lf.hypotheses_needed(20, 40, 4) > lf.hypotheses_needed(20, 40, 3)
    assert lf.hypotheses_needed(20, 40, 3) > needed


@pytest.mark.parametrize("name", COPIES)
def test_a_ransac_bounded_by_the_inliers_that_matter_finds_the_full_searchs_transform(
        name, original, original_features):
    copy = lf.extract(encode(COPIES[name](original), "JPEG", quality=85))
    full = lf.match_pair(original_features, copy, lf.MatchOptions(bounded_ransac=False),
                         least_inliers=20)  # every RANSAC draws its 2,000 hypotheses
    bounded = lf.match_pair(original_features, copy, least_inliers=20)
    assert (bounded.inliers, bounded.model, bounded.mirrored) == (
        full.inliers, full.model, full.mirrored)
    assert np.allclose(bounded.matrix, full.matrix)


def test_the_transform_maps_the_original_onto_the_copy(original, original_features):
    copy = lf.extract(encode(transforms.squash(original.crop((80, 0, 800, 600)), 0.8), "PNG"))
    found = lf.match_pair(original_features, copy)
    # The original's decode is 512 px wide: x 80..800 of 800 px is 51.2..512, squashed to
    # 0.8 of the copy's width; y is unchanged (384 px both).
    scale_x = copy.size[0] / (512 * 720 / 800)
    expected = np.array([[scale_x, 0, -51.2 * scale_x], [0, copy.size[1] / 384, 0], [0, 0, 1]])
    assert np.allclose(found.matrix[:2, :2], expected[:2, :2], atol=0.02)
    assert np.allclose(found.matrix[:2, 2], expected[:2, 2], atol=2.0)  # pixels


def test_a_degenerate_transform_with_nan_or_infinite_entries_is_refused_without_a_warning():
    # RANSAC on a degenerate sample (collinear points) can return such a matrix.
    for bad in (np.nan, np.inf, -np.inf):
        matrix = np.eye(3)
        matrix[0, 2] = bad
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not lf._plausible(matrix, (512, 384), (512, 384), 16.0)
    assert lf._plausible(np.eye(3), (512, 384), (512, 384), 16.0)


def test_bad_feature_params_are_refused_as_user_errors():
    with pytest.raises(UserError, match="long_side_px"):
        lf.FeatureOptions(long_side_px=10)
    with pytest.raises(UserError, match="max_keypoints"):
        lf.FeatureOptions(max_keypoints=8)
    with pytest.raises(UserError, match="spread_cells"):
        lf.FeatureOptions(spread_cells=0)
    # 0 switches local features off: rows get none, and curate clusters without them.
    assert lf.feature_fields(lf.FeatureOptions(max_keypoints=0), b"any bytes") == {
        "local_features": None}


def test_hashing_with_features_gives_every_readable_image_features_from_one_read(tmp_path):
    write(tmp_path / "a.jpg", _painting("seascape", 4), "JPEG")
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    extra = functools.partial(lf.feature_fields, lf.FeatureOptions())
    good, bad = hash_files(sorted(tmp_path.iterdir()), workers=1, extra=extra)
    assert len(lf.LocalFeatures.from_bytes(good["local_features"])) > 100
    assert "local_features" not in bad and bad["error"]
    assert "local_features" not in hash_files([tmp_path / "a.jpg"], workers=1)[0]


def test_a_faded_dark_copy_keeps_the_keypoints_of_its_brighter_copy(original,
                                                                    original_features):
    from PIL import ImageEnhance

    faded = ImageEnhance.Brightness(ImageEnhance.Contrast(original).enhance(0.2)).enhance(0.5)
    copy = lf.extract(encode(faded, "JPEG", quality=90))
    # SIFT keeps keypoints above a fixed contrast: a fifth of the contrast would keep few.
    assert len(copy) >= 0.8 * len(original_features)
    assert lf.match_pair(original_features, copy).inliers >= 40


def test_the_local_verdict_on_a_close_up_on_a_wall_does_not_depend_on_which_image_is_first(
        original, original_features):
    from curate.dedup import verify_local

    detail = original.crop((400, 300, 640, 480)).resize((640, 480))  # 9 % of the picture
    wall = Image.new("RGB", (900, 760), (182, 176, 160))
    wall.paste(detail, (130, 120))
    close_up = lf.extract(encode(wall, "JPEG", quality=90)).to_bytes()
    whole = original_features.to_bytes()
    # Without thumbnails only the inliers and their spread decide. Counted in the whole's
    # coarse cells the shared part is a few cells the inliers cover less evenly than the
    # close-up's own cells: seen from the whole alone, this copy was rejected.
    assert verify_local(whole, close_up)[0] and verify_local(close_up, whole)[0]
