"""Evaluation: how good the generator and the upscaler are, measured apart from training.

Two stages, each a module run with ``python -m`` (see dvc.yaml): ``evaluate.train_encoder``
(stage ``encoder``: the feature space, trained on the pack alone) and ``evaluate`` (stage
``evaluate``: GAN vs Markov baseline vs the real floor on held-out paintings, the upscaler,
``metrics/eval.json`` and an offline HTML report). The metrics, the baseline and the novelty
check are plain modules that training and benchmarks import too.
"""
