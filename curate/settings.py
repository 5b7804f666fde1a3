"""The ``curate`` section of params.yaml, read by the ``hash@SOURCE`` and ``curate`` stages: its
keys and their kinds, checked before any work (marcus.config)."""

from marcus.config import list_of

SPEC = {
    "workers": int,
    "current_year": int,
    "licence": {"min_years_since_death": int, "undated_min_age_years": int},
    "date_window": list_of(int, length=2),
    "object_types": list_of(str),
    "min_short_side_px": int,
    "min_pixels": int,
    "aspect_ratio": list_of(float, length=2),
    "artist_allow": list_of(str),
    "artist_deny": list_of(str),
    "genres": list_of(str),
    "min_works_per_artist": int,
    "source_priority": list_of(str),
    "features": {"long_side_px": int, "max_keypoints": int, "picture_region": bool,
                 "spread_cells": int},
    "dedup": {"max_distance": int, "accept_inliers": int, "review_inliers": int,
              "retrieval_neighbours": int, "retrieval_shortlist": int,
              "second_looks": str, "replicas": str, "window_search": str},
    "hf_export": bool,
}
