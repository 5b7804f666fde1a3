"""Training and its stages: pack, the StyleGAN2-like generator, the print upscaler, render,
the evaluation encoder and evaluate.

Each stage is a module run as ``python -m train.<module>`` (see dvc.yaml) and reads its own
params.yaml section; ARCHITECTURE.md shows how they hand data to each other.
"""
