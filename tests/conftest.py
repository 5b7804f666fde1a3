"""Shared fixtures: one small demo collection per test session, and servers over it. The tiny
copies of this project for real `dvc repro` runs are in tests/pipeline/conftest.py.
"""

from __future__ import annotations

import pytest

from demo.build import build_collection
from demo.collection import DemoCollection
from demo.server import DemoServer

# Small but with every kind of trap planted at least once (defects have min_defects=1).
DEMO_SEED = 7
DEMO_ARTWORKS = 120


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "collection"
    build_collection(root, seed=DEMO_SEED, artworks=DEMO_ARTWORKS, oversized_mib=4)
    return root


@pytest.fixture(scope="session")
def demo_collection(demo_root):
    return DemoCollection(demo_root)


@pytest.fixture(scope="session")
def demo_server(demo_collection):
    with DemoServer(demo_collection) as server:
        yield server
