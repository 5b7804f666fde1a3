"""The tests, laid out like the code: tests/<package>/test_<module>.py for a module's own tests,
test_e2e*.py for a package's end-to-end runs, tests/pipeline/ for what spans the stages. Shared
fixtures are in conftest.py, synthetic images in images.py (see the README for the tiers)."""
