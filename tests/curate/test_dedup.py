"""curate.dedup on the session's demo collection: copies merge, series stay apart, ids are
deterministic; and the verification step on hand-made transforms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from curate import dedup
from curate.hashing import hash_files, hash_image
from demo import transforms
from marcus.errors import UserError
from tests.images import encode, noise

# Transforms whose copies any de-duplicator must find (no framing, cropping or detail).
EASY = {"original", "resize", "colour", "squash", "watermark", "colour+resize",
        "watermark+colour", "colour+watermark", "squash+watermark", "watermark+squash",
        "watermark+resize", "resize+watermark"}


@pytest.fixture(scope="module")
def clustered(demo_root):
    truth = pd.read_parquet(demo_root / "ground_truth.parquet")
    truth = truth[truth["file"].notna() & (truth["defect"] == "")].reset_index(drop=True)
    rows = pd.DataFrame(hash_files([demo_root / f for f in truth["file"]], workers=2))
    rows["key"] = truth["copy_id"]
    return truth, rows, dedup.cluster(rows, workers=2)


def test_known_copies_are_merged(clustered):
    truth, _, out = clustered
    easy = truth[truth["transform"].isin(EASY)]
    checked = 0
    for _, group in easy.groupby("artwork_id"):
        if len(group) > 1:
            clusters = out.loc[group.index, "cluster_id"]
            assert clusters.nunique() == 1, group[["copy_id", "transform"]]
            checked += 1
    assert checked >= 8
    # Framed and cropped copies: most must be found too (the plain-phash baseline finds few).
    # Not those also mirrored, photographed at an angle or on a wall, strongly regraded or
    # small: thumbnails cannot see them (the local features' tests below do).
    hard = truth[truth["transform"].str.contains("frame|crop") & ~truth["transform"].str.contains(
        "detail|mirror|perspective|wall|colour_strong|low_res")]
    found = [out.at[i, "cluster_id"] == out.loc[truth.index[truth.artwork_id == a], "cluster_id"]
             .min() and out.at[i, "cluster_size"] > 1
             for i, a in zip(hard.index, hard["artwork_id"], strict=True)]
    assert len(found) >= 5 and np.mean(found) >= 0.75, found


def test_series_and_distinct_works_stay_apart(clustered):
    truth, _, out = clustered
    works = out.groupby("cluster_id").apply(
        lambda g: truth.loc[g.index, "artwork_id"].nunique(), include_groups=False)
    # No cluster mixes works, of any object type: studio photographs of sculptures (smooth
    # shapes on one plain backdrop) used to merge before the score ignored smooth shading
    # and low-texture tiles.
    assert (works == 1).all(), works[works > 1]
    series = truth[truth["series_id"] >= 0]
    assert series["artwork_id"].nunique() >= 6  # the collection does plant series
    for _, group in series.groupby("series_id"):
        per_work = out.loc[group.index].groupby(group["artwork_id"])["cluster_id"].first()
        assert per_work.is_unique


def test_output_columns_and_evidence(clustered):
    _, rows, out = clustered
    assert out.index.equals(rows.index)
    matched = out[out["cluster_size"] > 1]
    by_hash = matched["matched_by"].isin(["sha256", "phash", "frame_or_centre"])
    assert (matched.loc[by_hash, "match_distance"] >= 0).all()
    assert (matched.loc[~by_hash, "match_distance"] == -1).all()  # found without a hash
    assert set(matched["matched_by"]) <= {"sha256", "phash", "frame_or_centre", "window",
                                          "detail"}
    assert (matched["match_score"] >= dedup.DEFAULTS["min_score"]).all()
    assert (out.loc[out["cluster_size"] == 1, "match_distance"] == -1).all()


def test_cluster_ids_are_deterministic(clustered):
    _, rows, out = clustered
    shuffled = rows.sample(frac=1.0, random_state=3)
    again = dedup.cluster(shuffled)
    assert again["cluster_id"].reindex(rows.index).equals(out["cluster_id"])
    # The id is the smallest key-order position among the members.
    position = rows["key"].rank(method="first").astype(int) - 1
    assert (out["cluster_id"] == position.groupby(out["cluster_id"]).transform("min")).all()


def _jpeg(img: Image.Image) -> bytes:
    return encode(img, "JPEG", quality=85)


def _thumb(img: Image.Image) -> bytes:
    return hash_image(_jpeg(img))["thumb"]


def test_verify_accepts_transformed_copies_and_rejects_other_pictures(demo_root):
    files = sorted((demo_root / "files").glob("*/*.jpg"))[:6]
    pictures = [Image.open(f).convert("RGB") for f in files]
    pictures = [p for p in pictures if min(p.size) > 200][:3]
    assert len(pictures) == 3
    base = pictures[0]
    copies = [
        transforms.crop(base, 0.1, 0.05, 0.02, 0.12),
        transforms.add_frame(base, 0.1, "gilt", 1),
        transforms.colour_grade(transforms.squash(base, 0.88), 1.2, 0.8, 0.4),
    ]
    reference = _thumb(base)
    for copy in copies:
        assert dedup.verify(reference, _thumb(copy)) >= dedup.DEFAULTS["min_score"]
    for other in pictures[1:]:
        assert dedup.verify(reference, _thumb(other)) < dedup.DEFAULTS["min_score"]


def test_byte_copies_and_error_rows():
    a = hash_image(b"not an image")
    rows = pd.DataFrame([a, a, hash_image(b"other")])
    rows["key"] = ["b", "a", "c"]
    out = dedup.cluster(rows)
    assert list(out["cluster_id"]) == [0, 0, 2]
    assert list(out["matched_by"]) == ["sha256", "sha256", ""]
    with pytest.raises(UserError, match="unknown keys"):
        dedup.cluster(rows, no_such_option=1)


def test_pairs_found_are_symmetric_in_verify(demo_root):
    files = sorted((demo_root / "files").glob("*/*.jpg"))[:2]
    a, b = (hash_image(f.read_bytes())["thumb"] for f in files)
    assert abs(dedup.verify(a, b) - dedup.verify(b, a)) < 1e-6


def _pictures(demo_root, count: int) -> list[Image.Image]:
    truth = pd.read_parquet(demo_root / "ground_truth.parquet")
    clean = truth[truth["file"].notna() & (truth["defect"] == "")
                  & (truth["transform"] == "original") & (truth["object_type"] == "painting")]
    clean = clean.drop_duplicates("artwork_id")
    pictures = [Image.open(demo_root / f).convert("RGB") for f in clean["file"].iloc[:30]]
    return [p for p in pictures if min(p.size) > 300][:count]


def test_details_are_verified_and_clustered(demo_root):
    base, *others = _pictures(demo_root, 5)
    close_up = transforms.detail(base, (0.2, 0.3, 0.72, 0.82))  # 52 % x 52 %, off-centre
    graded = transforms.colour_grade(close_up, 1.2, 0.8, 0.3)
    whole, part = _thumb(base), _thumb(graded)
    assert dedup.verify_detail(whole, part) >= dedup.DEFAULTS["min_score"]
    for other in others:
        assert dedup.verify_detail(_thumb(other), part) < dedup.DEFAULTS["min_score"]
    # Through cluster(): no hash links a detail to its whole; the window search must.
    images = [base, graded, *others]
    rows = pd.DataFrame([hash_image(_jpeg(img)) for img in images])
    rows["key"] = [f"k{i}" for i in range(len(images))]
    out = dedup.cluster(rows)
    assert out["cluster_id"].iat[0] == out["cluster_id"].iat[1]
    assert out["matched_by"].iat[1] == "detail"
    assert out["cluster_id"].iloc[2:].is_unique and (out["cluster_size"].iloc[2:] == 1).all()
    assert (dedup.cluster(rows, detail_neighbours=0)["cluster_size"] == 1).all()


def _studio_photo(radius_x: int, radius_y: int, centre_x: int, seed: int) -> Image.Image:
    """A smooth, shaded object on a plain backdrop and plinth, like a museum's sculpture
    photograph: almost all structure is the shared backdrop edges and the silhouette."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:300, :400].astype(np.float32)
    img = np.full((300, 400), 120.0, np.float32)
    img[200:] = 90.0
    img[200:, 120:280] = 105.0
    inside = ((xx - centre_x) / radius_x) ** 2 + ((yy - 130) / radius_y) ** 2
    shade = 170 - 60 * np.clip(inside, 0, 1) + 40 * (xx - centre_x) / radius_x
    img = np.where(inside <= 1, shade, img) + rng.normal(0, 1.5, img.shape)
    gray = np.clip(img, 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([gray] * 3, -1))


def test_shared_backdrop_does_not_make_a_match():
    first = _thumb(_studio_photo(70, 60, 200, seed=1))
    for radius_x, radius_y, centre_x in ((55, 70, 190), (80, 45, 215), (60, 60, 170)):
        other = _thumb(_studio_photo(radius_x, radius_y, centre_x, seed=2))
        assert dedup.verify(first, other) < dedup.DEFAULTS["min_score"]


def test_bad_thumbnail_is_a_clear_error():
    with pytest.raises(ValueError, match="64x64"):
        dedup.verify(b"short", bytes(4096))


def test_window_descriptors_match_their_boxes():
    boxes = dedup.window_boxes()
    thumbs = noise((3, dedup.THUMB_SIDE, dedup.THUMB_SIDE), seed=0, dtype=np.float32)
    whole, windows = dedup.whole_descriptors(thumbs), dedup.window_descriptors(thumbs)
    assert whole.shape == (3, 64) and windows.shape == (3, len(boxes), 64)
    assert np.allclose(np.linalg.norm(windows, axis=-1), 1, atol=1e-4)
    # The full-size window is the whole image.
    full = int(np.flatnonzero((boxes == [0, 0, 1, 1]).all(1))[0])
    assert np.allclose(windows[:, full], whole, atol=1e-5)
    # Boxes lie inside the image.
    assert (boxes[:, :2] >= 0).all() and (boxes[:, :2] + boxes[:, 2:] <= 1 + 1e-9).all()


def test_single_threaded_blas_restores_the_setting():
    a = np.ones((50, 50))
    with dedup.single_threaded_blas():
        inside = a @ a
    assert np.array_equal(inside, a @ a)


def test_indexed_window_search_finds_what_the_exact_one_finds(clustered):
    """Beyond `exact_window_search_max` images the window search runs through an inverted
    file; on the demo collection it must return (almost) the exact search's candidates and
    the same clusters."""
    _, rows, exact_clusters = clustered
    thumbs = [bytes(t) for t in rows["thumb"]]
    neighbours, similarity = (dedup.DEFAULTS[k] for k in ("detail_neighbours",
                                                          "detail_min_similarity"))
    with dedup.single_threaded_blas():
        exact = dedup._detail_candidates(thumbs, neighbours, similarity, len(thumbs))
        indexed = dedup._detail_candidates(thumbs, neighbours, similarity, exact_max=0)
        again = dedup._detail_candidates(thumbs, neighbours, similarity, exact_max=0)
    assert indexed.equals(again)  # seeded k-means: deterministic
    assert len(exact) > 100
    shared = set(exact.itertuples(index=False)) & set(indexed.itertuples(index=False))
    assert len(shared) >= 0.97 * len(exact)
    indexed_clusters = dedup.cluster(rows, exact_window_search_max=0)
    assert (indexed_clusters["cluster_id"] == exact_clusters["cluster_id"]).mean() >= 0.99


def test_clusters_and_evidence_are_the_same_in_one_process_or_several(clustered):
    _, rows, in_two = clustered  # verified in a pool of two processes
    pd.testing.assert_frame_equal(dedup.cluster(rows, workers=1), in_two)


def test_the_indexed_window_search_finds_the_same_in_one_process_or_several(clustered):
    _, rows, _ = clustered
    thumbs = [bytes(t) for t in rows["thumb"]]
    with dedup.single_threaded_blas():  # as in `cluster`, and in every pool process
        alone, pooled = (dedup._window_hits_indexed(thumbs, 0.9, block=128, workers=workers)
                         for workers in (1, 2))
    assert len(alone[0]) > 100
    for mine, theirs in zip(alone, pooled, strict=True):
        assert np.array_equal(mine, theirs)


def test_window_search_without_any_similar_window_is_empty():
    thumbs = [thumb.tobytes() for thumb in noise((40, 64 * 64), seed=3)]
    for exact_max in (40, 0):
        found = dedup._detail_candidates(thumbs, 3, 0.99, exact_max)
        assert found.empty and list(found.columns) == ["a", "b", "window"]


def test_hash_candidates_are_each_images_nearest_few_however_crowded_the_hashes():
    """Hashes in a crowd (only 12 of 64 bits vary) are all within the radii of each other: the
    pairs within a radius grow as N^2, the candidates only as N, and every image keeps its
    own nearest."""
    rng = np.random.default_rng(5)
    count, keep = 600, 4
    mask = sum(1 << int(bit) for bit in rng.choice(64, 12, replace=False))
    values = {column: [f"{int(v) & mask:016x}" for v in rng.integers(0, 2**63, count)]
              for column in dedup.HASH_COLUMNS}
    rows = pd.DataFrame(values)
    candidates = dedup._hash_candidates(rows, 10, 12, keep, np.arange(count))
    phash = np.array([int(v, 16) for v in values["phash"]], dtype=np.uint64)
    within_radius = int((np.bitwise_count(phash[:, None] ^ phash[None, :]) <= 10).sum()
                        - count) // 2
    assert within_radius > 50 * count
    assert len(candidates) <= keep * count
    assert set(candidates["a"]) | set(candidates["b"]) == set(range(count))
    assert (candidates["a"] < candidates["b"]).all() and not candidates.duplicated(["a", "b"]).any()


def test_byte_copies_of_two_versions_do_not_crowd_each_other_out_of_the_candidates():
    """A painting served as one file by five sources and as another (a trimmed copy, its
    hash 6 bits away) by five more: however few candidates each image keeps, a file's byte
    copies must not fill its list (at distance 0), and the ten records are one cluster."""
    from tests.images import painting

    picture = painting((320, 256), seed=11)
    museum = hash_image(encode(picture, "JPEG", quality=92))
    mirror = hash_image(encode(picture.crop((8, 6, 312, 250)), "JPEG", quality=80))
    other = [hash_image(encode(painting((320, 256), seed=s), "JPEG")) for s in (21, 22, 23)]
    rows = pd.DataFrame([museum] * 5 + [mirror] * 5 + other)
    rows["key"] = [f"k{i:02d}" for i in range(len(rows))]
    out = dedup.cluster(rows, workers=1, hash_neighbours=1, detail_neighbours=1)
    assert out["cluster_id"].iloc[:10].nunique() == 1
    assert out["cluster_id"].iloc[10:].nunique() == 3 and out["cluster_size"].iloc[10:].eq(1).all()


# ----------------------------------------------------------------------------------------------
# Local features: what thumbnails cannot see


def _painted(kind: str, seed: int, fast: bool = False):
    from demo import painter

    style = painter.Style.random(np.random.default_rng(seed))
    return painter.paint(kind, style, seed, (800, 600), fast=fast)


def _rows_with_features(images: list, keys: list[str]) -> pd.DataFrame:
    from curate.local_features import extract

    data = [encode(img, "JPEG", quality=88) for img in images]
    rows = pd.DataFrame([hash_image(d) for d in data])
    rows["local_features"] = [extract(d).to_bytes() for d in data]
    rows["key"] = keys
    return rows


def test_local_features_join_mirrored_and_angled_copies_that_the_thumbnails_miss():
    original = _painted("seascape", 21)
    angled = original.transform(original.size, Image.Transform.PERSPECTIVE,
                                (1.15, 0.2, -90, 0.08, 1.1, -40, 2e-4, 1e-4))
    mirrored = transforms.colour_grade(original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                       1.3, 0.8, 0.3)
    others = [_painted(kind, 30 + i) for i, kind in enumerate(("seascape", "landscape"))]
    rows = _rows_with_features([original, angled, mirrored, *others],
                               ["a", "b", "c", "d", "e"])
    without = dedup.cluster(rows.drop(columns="local_features"), workers=1)
    assert without["cluster_size"].max() == 1  # what the thumbnails alone find: nothing
    out = dedup.cluster(rows, workers=1)
    assert list(out["cluster_id"]) == [0, 0, 0, 3, 4]
    assert set(out["matched_by"][:3]) <= {"local", "local_mirrored"}
    assert out.loc[2, "matched_by"] == "local_mirrored"
    assert (out["match_inliers"][:3] >= 20).all() and (out["match_inliers"][3:] == -1).all()


def test_thumbnails_and_features_read_from_files_cluster_as_the_columns_do(tmp_path):
    """The stage keeps both on disk (`FeatureStore`), reading an image's when a pair needs
    it; a byte copy's are left out of the searches there as in a list."""
    from curate.feature_store import FeatureStore

    original = _painted("seascape", 21)
    mirrored = transforms.colour_grade(original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                       1.3, 0.8, 0.3)
    rows = _rows_with_features([original, mirrored, _painted("landscape", 31), original],
                               ["a", "b", "c", "d"])  # "d": a byte copy of "a"
    rows.loc[2, "thumb"] = None  # a hash file from before thumbnails: none for this row
    in_memory = dedup.cluster(rows, workers=1)
    with FeatureStore.write(tmp_path / "thumbs", rows["thumb"]) as thumbs, \
            FeatureStore.write(tmp_path / "features", rows["local_features"]) as features:
        on_disk = dedup.cluster(rows.drop(columns=["thumb", "local_features"]), workers=1,
                                thumbs=thumbs, features=features)
        assert thumbs[3] is None and features[3] is None  # the copy left the searches
    pd.testing.assert_frame_equal(on_disk, in_memory)
    assert list(on_disk["cluster_id"]) == [0, 0, 2, 0]
    with pytest.raises(ValueError, match="3 rows of thumbnails for 4 rows"):
        dedup.cluster(rows, thumbs=[None] * 3)


def test_a_shared_watermark_or_frame_does_not_make_two_paintings_one():
    images = []
    for i, kind in enumerate(("landscape", "portrait", "seascape")):
        # The fast painter's smooth pictures leave the watermark's and frame's keypoints the
        # most inliers: the hardest case for an inlier count.
        a, b = _painted(kind, 40 + i, fast=True), _painted(kind, 50 + i, fast=True)
        mark = "(c) Demo Picture Library"
        images += [transforms.watermark(a, mark, 0.6), transforms.watermark(b, mark, 0.6),
                   transforms.add_frame(a, 0.1, "gilt", 3), transforms.add_frame(b, 0.1, "gilt", 3)]
    rows = _rows_with_features(images, [f"k{i:02d}" for i in range(len(images))])
    out = dedup.cluster(rows, workers=1)
    # Each painting's watermarked and framed copies are one picture; never two paintings.
    assert out["cluster_id"].nunique() == 6
    for group in range(3):
        first = 4 * group
        assert out.loc[first, "cluster_id"] == out.loc[first + 2, "cluster_id"]
        assert out.loc[first + 1, "cluster_id"] == out.loc[first + 3, "cluster_id"]
        assert out.loc[first, "cluster_id"] != out.loc[first + 1, "cluster_id"]


def test_copies_of_a_picture_too_smooth_for_local_features_keep_the_thumbnails_verdict():
    from PIL import ImageDraw, ImageFilter

    # A smooth shaded form before a plain ground (a photograph of a sculpture, a colour
    # field): next to no keypoints, so the local features can neither confirm nor refute.
    ground = np.linspace(60, 140, 600)[:, None, None] + np.array([10, 30, 50])
    smooth = Image.fromarray(np.broadcast_to(ground, (600, 500, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(smooth)
    draw.ellipse((160, 120, 320, 340), fill=(220, 215, 200))
    draw.rectangle((0, 420, 500, 600), fill=(50, 48, 45))
    smooth = smooth.filter(ImageFilter.GaussianBlur(6))
    rows = _rows_with_features([smooth, smooth.resize((400, 480)), _painted("portrait", 5)],
                               ["a", "b", "c"])
    out = dedup.cluster(rows, workers=1)
    assert list(out["cluster_id"]) == [0, 0, 2]
    assert list(out["matched_by"][:2]) == ["phash", "phash"]


def test_the_dense_check_at_the_found_alignment_tells_a_copy_from_another_picture():
    from curate.local_features import extract, match_pair

    original = _painted("landscape", 60)
    copy = transforms.squash(original.crop((120, 60, 800, 600)), 0.8)
    other = _painted("landscape", 61)
    data = {name: encode(img, "JPEG", quality=90)
            for name, img in (("original", original), ("copy", copy), ("other", other))}
    rows = {name: hash_image(d) for name, d in data.items()}
    feats = {name: extract(d) for name, d in data.items()}
    found = match_pair(feats["original"], feats["copy"])

    def agreement(b: str) -> float:
        return dedup.aligned_agreement(rows["original"]["thumb"], rows["original"]["trim"],
                                       feats["original"].size, rows[b]["thumb"],
                                       rows[b]["trim"], feats[b].size, found.matrix, False)

    assert agreement("copy") > 0.6
    # The other picture, put where the copy lay: the same alignment, nothing agrees.
    feats["other"] = type(feats["copy"])(feats["copy"].xy, feats["copy"].desc,
                                         feats["copy"].size)
    assert agreement("other") < 0.2


def test_bad_local_feature_rules_are_refused_before_any_work():
    rows = pd.DataFrame({"sha256": ["a"], "key": ["a"]})
    with pytest.raises(UserError, match="review_inliers <= accept_inliers"):
        dedup.cluster(rows, accept_inliers=10, review_inliers=20)
    with pytest.raises(UserError, match="retrieval_neighbours"):
        dedup.cluster(rows, retrieval_neighbours=-1)


def test_the_replica_policy_keeps_other_hands_apart_only_when_asked():
    """Two photographs of one painting, a third recorded as "Workshop of" its artist (here
    the same pixels, a replica no verifier could tell apart) and a byte copy of that one:
    by pixels all four are one object; by attribution the workshop's two records are their
    own, and a byte copy is never split from its file."""
    from tests.images import painting

    picture = painting((320, 256), seed=5)
    first = hash_image(encode(picture, "JPEG", quality=92))
    second = hash_image(encode(picture.resize((300, 240)), "JPEG", quality=80))
    workshop = hash_image(encode(picture.crop((4, 4, 316, 252)), "JPEG", quality=85))
    rows = pd.DataFrame([first, second, workshop, workshop])
    rows["key"] = ["a", "b", "c", "d"]
    rows["attribution_qualifier"] = [None, "attributed to", "workshop of", "Workshop of"]
    by_pixels = dedup.cluster(rows, workers=1)
    assert by_pixels["cluster_id"].nunique() == 1
    by_hand = dedup.cluster(rows, workers=1, replicas="attribution")
    assert by_hand["cluster_id"].tolist() == [0, 0, 2, 2]
    with pytest.raises(UserError, match="replicas"):
        dedup.cluster(rows, replicas="metadata")


def test_a_pair_the_thumbnails_rejected_is_matched_mirrored_too_when_the_retrieval_says_so():
    from curate.local_features import extract

    original = _painted("seascape", 21)
    mirrored = transforms.colour_grade(original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                       1.3, 0.8, 0.3)
    others = [_painted(kind, 30 + i) for i, kind in enumerate(("seascape", "landscape"))]
    data = [encode(img, "JPEG", quality=88) for img in (original, mirrored, *others)]
    thumbs = [hash_image(d)["thumb"] for d in data]
    features = [extract(d).to_bytes() for d in data]
    opts = dedup.checked_tuning({})

    def edges(second_look: dict) -> list:
        return dedup._local_edges(thumbs, features, np.ones(4, bool), [None] * 4, second_look,
                                  [], set(second_look), opts, 1, None)

    # Proposed by the retrieval alone, the pair is matched in the orientation its query found.
    assert [e[4] for e in edges({})] == ["local_mirrored"]
    # A pair the hashes proposed and the thumbnails rejected is matched as it is, and also
    # mirrored when the retrieval's mirrored query proposes it as well.
    found = edges({(0, 1): 7})
    assert [(e[:3], e[4]) for e in found] == [((0, 1, 7), "local_mirrored")]


def test_a_pair_the_thumbnails_rejected_is_matched_again_only_where_the_retrieval_proposes_it():
    from curate.local_features import extract
    from curate.stage import Phases

    seascape, landscape = _painted("seascape", 21), _painted("landscape", 22)
    images = (seascape, transforms.colour_grade(seascape, 1.2, 0.8, 0.3),
              landscape, transforms.colour_grade(landscape, 0.8, 1.2, -0.3))
    data = [encode(img, "JPEG", quality=88) for img in images]
    thumbs = [hash_image(d)["thumb"] for d in data]
    features = [extract(d).to_bytes() for d in data]

    def verified(second_looks: str, neighbours: int) -> tuple[int, list]:
        """Pairs the local features matched, and the edges they accepted, when the hashes
        proposed the seascape and the landscape (different pictures) and the thumbnails
        rejected that pair."""
        opts = dedup.checked_tuning({"second_looks": second_looks,
                                     "retrieval_neighbours": neighbours})
        rejected = {(0, 2): 9}
        phases = Phases(echo=False)
        found = dedup._local_edges(thumbs, features, np.ones(4, bool), [None] * 4, rejected,
                                   [], set(rejected), opts, 1, phases)
        counts = {row["phase"]: row for row in phases.rows}
        return (counts["dedup: local features verified"]["pairs"],
                sorted(e[:2] for e in found))

    # Each image's best retrieval candidate is its copy: the two copies are matched and
    # accepted, the rejected pair no image proposes is not matched again...
    assert verified("retrieved", 1) == (2, [(0, 1), (2, 3)])
    # ...unless every rejected pair is to be, or the retrieval is off.
    assert verified("all", 1) == (3, [(0, 1), (2, 3)])
    assert verified("retrieved", 0) == (1, [])
    with pytest.raises(UserError, match="second_looks"):
        dedup.checked_tuning({"second_looks": "some"})


def test_the_window_search_runs_only_where_the_local_feature_retrieval_cannot_search():
    """A close-up no hash links to its painting: with local features the retrieval finds it
    and the window search is skipped ("auto"); without them, or with the retrieval off, the
    window search finds it; "on" and "off" force the choice."""
    from curate.stage import Phases

    base, *others = (_painted(kind, 40 + i) for i, kind in
                     enumerate(("landscape", "seascape", "portrait")))
    close_up = transforms.detail(base, (0.2, 0.3, 0.72, 0.82))  # 52 % x 52 %, off-centre
    rows = _rows_with_features([base, close_up, *others], ["a", "b", "c", "d"])

    def clustered(frame: pd.DataFrame, **tuning) -> tuple[int, list, str]:
        """Window candidates, cluster ids and how the close-up was matched."""
        phases = Phases(echo=False)
        out = dedup.cluster(frame, workers=1, phases=phases, **tuning)
        search = next(r for r in phases.rows if r["phase"] == "dedup: window search")
        return search["candidates"], list(out["cluster_id"]), out["matched_by"].iat[1]

    searched, ids, by = clustered(rows)
    assert searched == 0 and ids == [0, 0, 2, 3] and by == "local"  # not mirrored
    for frame, tuning in ((rows.drop(columns="local_features"), {}),
                          (rows, {"retrieval_neighbours": 0}), (rows, {"window_search": "on"})):
        searched, ids, _ = clustered(frame, **tuning)
        assert searched > 0 and ids == [0, 0, 2, 3]
    searched, ids, _ = clustered(rows.drop(columns="local_features"), window_search="off")
    assert searched == 0 and ids == [0, 1, 2, 3]
    with pytest.raises(UserError, match="window_search"):
        dedup.checked_tuning({"window_search": "sometimes"})
