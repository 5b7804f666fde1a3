"""Training: the StyleGAN2-like generator, the upscaler and evaluation (not built yet).

The stages ``pack``, ``train_gan``, ``train_upscaler``, ``render`` and ``evaluate`` will read
``data/curate/curated.parquet``; see ARCHITECTURE.md.
"""
