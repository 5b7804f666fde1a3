"""demo.server: robots.txt and unknown paths, and the `python -m demo serve` command answering on
loopback.
"""

import subprocess
import sys
from pathlib import Path

from tests.demo.apis.helpers import get

REPO = Path(__file__).resolve().parents[2]


def test_robots_txt_and_unknown_paths(demo_server):
    robots = get(demo_server.url + "/robots.txt")
    assert robots.status_code == 200 and "Disallow: /private/" in robots.text
    assert get(demo_server.url + "/nowhere/x").status_code == 404
    assert get(demo_server.api_roots["met"] + "/nothing").status_code == 404


def test_serve_command_answers_on_loopback(demo_root):
    import requests

    proc = subprocess.Popen([sys.executable, "-m", "demo", "serve", "--root",
                             str(demo_root), "--port", "0"], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("demo collection at http://127.0.0.1:")
        url = first.split(" at ", 1)[1].strip()
        response = requests.get(f"{url}/met/public/collection/v1/objects", timeout=10)
        assert response.status_code == 200 and response.json()["total"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
