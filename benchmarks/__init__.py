"""Benchmarks: speed and memory targets, measured side by side and written to results/.

Run all of them with ``make bench`` (``python -m benchmarks``), or one with
``python -m benchmarks demo_collection``. Each writes ``benchmarks/results/{name}.json``.
"""
