"""What the demo API tests share: the reference formats (tests/fixtures/real_api_formats.json:
published documentation and recorded real responses), a GET, and an image response's size.
"""

import io
import json
from pathlib import Path

import requests
from PIL import Image

REAL = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "real_api_formats.json")
                  .read_text())


def get(url, **kw):
    response = requests.get(url, timeout=10, **kw)
    return response


def image_size(response) -> tuple[int, int]:
    with Image.open(io.BytesIO(response.content)) as im:
        return im.size
