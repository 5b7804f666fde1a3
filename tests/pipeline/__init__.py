"""Tests that span the stages: dvc.yaml against the code, real `dvc repro` runs, committed
results."""
