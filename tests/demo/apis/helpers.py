"""What the demo API tests share: the reference formats (tests/fixtures/real_api_formats.json:
published documentation and recorded real responses), a GET, an image response's size, and a
server of a larger catalogue without image files.
"""

import io
import json
from pathlib import Path

import pandas as pd
import requests
from PIL import Image

from demo.collection import DemoCollection
from demo.server import DemoServer

REAL = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "real_api_formats.json")
                  .read_text())


def of_kind(value, kinds: str) -> bool:
    """``value`` is one of the fixture's ``kinds`` ("int|float"), a bool never counting as a
    number."""
    types = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}
    return any(isinstance(value, types[k]) and (k == "bool" or not isinstance(value, bool))
               for k in kinds.split("|"))


def get(url, **kw):
    response = requests.get(url, timeout=10, **kw)
    return response


def image_size(response) -> tuple[int, int]:
    with Image.open(io.BytesIO(response.content)) as im:
        return im.size


def catalogue_server(folder: Path, like: Path, artworks: int = 1000):
    """A server of the catalogue of the collection at ``like`` grown to ``artworks`` (more of
    every trap than the session's small one holds), with no image files: it answers the APIs'
    listings and records, not image requests. A context manager."""
    folder.mkdir()
    info = json.loads((like / "collection.json").read_text())
    (folder / "collection.json").write_text(json.dumps({**info, "artworks": artworks}))
    pd.read_parquet(like / "files.parquet").iloc[:0].to_parquet(folder / "files.parquet")
    return DemoServer(DemoCollection(folder))
