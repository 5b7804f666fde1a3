"""The ``evaluate`` section of params.yaml, read by both the ``encoder`` and ``evaluate`` stages:
its keys and their kinds, checked before any work (marcus.config)."""

from marcus.config import optional

SPEC = {
    "encoder_steps": int, "encoder_input_px": int, "inception_weights": optional(str),
    "samples": int, "truncation": float, "novelty_percentile": float, "gallery_pairs": int,
    "seed": int, "threads": int, "upscaler_images": int,
}
