"""Training and its stages: pack (the writer; train/data.py reads it), the StyleGAN2-like
generator, the print upscaler and render.

Each stage is a module run as ``python -m train.<module>`` (see dvc.yaml) and reads its own
params.yaml section; ARCHITECTURE.md shows how they hand data to each other. Evaluation lives
apart, in the ``evaluate`` package.
"""
