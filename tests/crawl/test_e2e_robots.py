"""Real CLI crawls against a small loopback site: a big robots.txt is obeyed (its first 500 KiB),
a 5xx robots.txt refuses its host and a 4xx allows everything; and the crawl listens on nothing
and writes nothing in $HOME. The parser itself is tested in test_robots.py.
"""

import http.server
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crawl.robots import MAX_BYTES
from tests.images import encode, painting

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


class Site(http.server.ThreadingHTTPServer):
    """A URL list of PNGs on loopback. ``robots`` maps the Host header's name to (status,
    body) for /robots.txt; the same port is "127.0.0.1" (the list) and "localhost"."""

    daemon_threads = True

    def __init__(self, images: int):
        super().__init__(("127.0.0.1", 0), _SiteHandler)
        self.port = self.server_address[1]
        self.robots: dict[str, tuple[int, bytes]] = {}
        self.asked: dict[str, int] = {}
        self.files = {}
        for i in range(images):
            self.files[f"/img/{i}.png"] = encode(painting((40, 30), seed=i), "PNG")

    def list_csv(self, host: str) -> bytes:
        paths = sorted(self.files)  # and three disallowed ones: first, in the middle, last
        paths = ["/img/private/0.png", *paths[:3], "/img/private/1.png", *paths[3:],
                 "/img/private/2.png"]
        rows = [f"http://{host}:{self.port}{p},Public Domain" for p in paths]
        return ("url,license\n" + "\n".join(rows) + "\n").encode()


class _SiteHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        site: Site = self.server
        host = self.headers.get("Host", "").rsplit(":", 1)[0]
        path = self.path.split("?")[0]
        if path == "/robots.txt":
            site.asked[host] = site.asked.get(host, 0) + 1
            status, body = site.robots.get(host, (404, b"no robots here"))
        elif path.startswith("/list"):  # /list-localhost.csv names images on that host
            status, body = 200, site.list_csv(path[len("/list-"):-len(".csv")] or host)
        elif path in site.files:
            status, body = 200, site.files[path]
        else:
            status, body = 404, b"not found"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if status != 200 or "img" not in path
                         else "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the crawler read enough robots.txt
            self.close_connection = True


@pytest.fixture
def site():
    server = Site(images=6)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def write_params(folder: Path, site: Site, list_host: str, **crawl) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["crawl"].update(progress=False, retries=0, backoff_base_s=0.05, fsync=False,
                           max_bytes=256 * 1024, **crawl)
    params["crawl"]["sources"]["urls"].update(
        list=f"http://127.0.0.1:{site.port}/list-{list_host}.csv", allowed_origins=[])
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def listening_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process ``pid`` holds that are listening (TCP state 0A)."""
    held = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError):
        return set()
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except (FileNotFoundError, ProcessLookupError):  # closed meanwhile
            continue
        if link.startswith("socket:["):
            held.add(link[8:-1])
    listening = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in held:
                listening.add(fields[9])
    return listening


def crawl_cli(tmp_path: Path, params: Path, site: Site, home: Path):
    """Run ``python -m crawl urls`` with HOME=home, watching for listening sockets meanwhile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawl", "urls", "--out", str(out), "--params", str(params),
         "--api-root", f"http://127.0.0.1:{site.port}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    listening = set()
    while proc.poll() is None:
        listening |= listening_inodes(proc.pid)
        time.sleep(0.01)
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, listening, out


def test_the_listening_socket_check_sees_a_listener():
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler):
        assert listening_inodes(os.getpid())


def test_a_crawl_obeys_a_big_robots_txt_listens_on_nothing_and_leaves_home_empty(site,
                                                                                  tmp_path):
    # 1 MB, declared in Content-Length, four times crawl.max_bytes: Scrapy alone would refuse
    # it; it is read up to 500 KiB, and a rule past that mark does not count.
    head = b"User-agent: *\nDisallow: /img/private/\n"
    filler = b"Disallow: /other/" + b"p" * 80 + b"\n"
    body = head + filler * ((MAX_BYTES + 10_000) // len(filler)) + b"Disallow: /img/\n"
    # On the images' host, asked for when all their requests are queued at once: each of them
    # is checked, not only the one that made the robots.txt request.
    site.robots["localhost"] = (200, body + filler * 5000)
    home = tmp_path / "home"
    home.mkdir()
    params = write_params(tmp_path, site, "localhost", log_level="INFO")
    code, stderr, listening, out = crawl_cli(tmp_path, params, site, home)
    assert code == 0, stderr[-3000:]
    rows = pd.read_parquet(out / "records.parquet")
    by_url = dict(zip(rows.image_url.str.replace(f":{site.port}", ""), rows.reason, strict=True))
    assert [by_url[f"http://localhost/img/private/{i}.png"] for i in range(3)] == ["robots"] * 3
    assert (rows.status == "stored").sum() == 6
    assert rows.error[rows.reason == "robots"].str.contains("Disallow: /img/private/").all()
    assert "only that much is read" in stderr

    assert listening == set()
    assert list(home.iterdir()) == []
    enabled = re.search(r"Enabled extensions:\n(\[.*?\])", stderr, re.S).group(1)
    scrapy_ones = set(re.findall(r"'scrapy\.extensions\.([\w.]+)'", enabled))
    assert scrapy_ones <= {"corestats.CoreStats", "logcount.LogCount", "memusage.MemoryUsage",
                           "closespider.CloseSpider", "logstats.LogStats"}, scrapy_ones


def test_a_robots_txt_answering_5xx_refuses_its_host_and_a_4xx_allows_everything(site,
                                                                                tmp_path):
    # The list's host answers 404 with rules in the body: an error page, not a robots.txt.
    site.robots["127.0.0.1"] = (404, b"User-agent: *\nDisallow: /\n")
    site.robots["localhost"] = (503, b"User-agent: *\nAllow: /\n")  # the images' host
    params = write_params(tmp_path, site, "localhost")
    home = tmp_path / "home"
    home.mkdir()
    code, stderr, _, out = crawl_cli(tmp_path, params, site, home)
    assert code == 0, stderr[-3000:]  # the listing was read: individual rows failed
    rows = pd.read_parquet(out / "records.parquet")
    assert len(rows) == 9 and set(rows.reason) == {"robots"}
    assert rows.error.str.contains("robots.txt unreachable: HTTP 503").all()
    assert site.asked == {"127.0.0.1": 1, "localhost": 1}  # once per host (retries=0)
