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


def test_paging_through_a_listing_selects_its_records_once_per_query(demo_root):
    """A real API pages through an index; the demo must too, or at 100,000 artworks the
    server's per-page rescan, not the crawler, is what a scaled crawl measures."""
    from demo.collection import DemoCollection
    from demo.server import DemoServer

    collection = DemoCollection(demo_root)
    selections = []
    listing = collection.listing

    def counted(key, select):
        return listing(key, lambda: selections.append(key[0]) or select())

    collection.listing = counted
    pages = {  # each source's paged listing: the same query, page after page
        "met": "/public/collection/v1.1/search?q=*&hasImages=true&limit=2&offset={n}",
        "aic": "/api/v1/artworks/search?query[term][is_public_domain]=true&limit=2&page={p}",
        "cleveland": "/api/artworks/?cc0=1&has_image=1&limit=2&skip={n}",
        "smithsonian": "/search?q=*&api_key=DEMO_KEY&rows=2&start={n}",
        "europeana": "/record/v2/search.json?query=*&wskey=api2demo&rows=2&start={s}",
    }
    with DemoServer(collection) as server:
        for source, template in pages.items():
            seen = []
            for page in range(3):
                url = server.api_roots[source] + template.format(n=2 * page, p=page + 1,
                                                                 s=2 * page + 1)
                answer = get(url)
                assert answer.status_code == 200, (source, answer.text)
                seen.append(answer.content)
            assert len(set(seen)) == 3, f"{source}: the pages are not three different pages"
        assert selections == list(pages), "each listing's records are selected once"
        another = "/api/artworks/?cc0=1&has_image=1&type=Painting&limit=2&skip=0"
        assert get(server.api_roots["cleveland"] + another).status_code == 200
        assert selections[-1] == "cleveland", "another query selects its own records"
    assert collection.source_copies("met") is collection.source_copies("met")
