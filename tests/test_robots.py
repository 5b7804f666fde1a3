"""robots.txt per RFC 9309 (crawl/robots.py), and crawls that listen on nothing and write
nothing in $HOME: parser cases, then real CLI crawls against a small loopback site."""

import http.server
import io
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from crawl.robots import MAX_BYTES, RobotsTxtParser

REPO = Path(__file__).resolve().parents[1]
UA = "MarcusBot/0.1 (open-access paintings dataset; someone@example.org) Scrapy"


def allowed(robots: bytes | str, *paths: str, agent: str = UA) -> list[bool]:
    parser = RobotsTxtParser(robots.encode() if isinstance(robots, str) else robots)
    return [parser.allowed(f"https://example.org{p}", agent) for p in paths]


# --- groups ---------------------------------------------------------------------------------

def test_the_group_naming_our_product_token_is_obeyed_whatever_its_case():
    robots = "User-agent: *\nDisallow: /\n\nUser-agent: mArCuSbOt/2.0\nDisallow: /mine/\n"
    assert allowed(robots, "/x", "/mine/x") == [True, False]


def test_groups_of_the_same_agent_are_merged():
    robots = ("User-agent: MarcusBot\nDisallow: /a/\n\nUser-agent: other\nDisallow: /b/\n\n"
              "User-agent: marcusbot\nDisallow: /c/\n")
    assert allowed(robots, "/a/1", "/b/1", "/c/1") == [False, True, False]


def test_consecutive_user_agent_lines_share_one_group():
    robots = "User-agent: otherbot\nUser-agent: MarcusBot\nDisallow: /shared/\n"
    assert allowed(robots, "/shared/1") == [False]
    assert allowed(robots, "/shared/1", agent="OtherBot/1") == [False]


def test_the_star_group_applies_only_when_no_group_names_us():
    robots = "User-agent: *\nDisallow: /all/\n\nUser-agent: otherbot\nDisallow: /\n"
    assert allowed(robots, "/all/1", "/x") == [False, True]
    assert allowed("User-agent: otherbot\nDisallow: /\n", "/x") == [True]  # no group for us
    assert allowed("", "/x") == [True]


def test_a_group_for_scrapy_applies_when_none_names_marcusbot_and_ours_beats_it():
    robots = "User-agent: *\nDisallow: /star/\n\nUser-agent: Scrapy\nDisallow: /\n"
    assert allowed(robots, "/x") == [False]
    robots += "\nUser-agent: MarcusBot\nDisallow: /mine/\n"
    assert allowed(robots, "/x", "/mine/1") == [True, False]


def test_a_product_token_matches_whole_not_as_part_of_another():
    robots = "User-agent: Marcus\nDisallow: /\n\nUser-agent: MarcusBotX\nDisallow: /\n"
    assert allowed(robots, "/x") == [True]


# --- rules ----------------------------------------------------------------------------------

def test_the_longest_match_wins_and_allow_wins_a_tie():
    robots = ("User-agent: *\nDisallow: /a/\nAllow: /a/b/\nDisallow: /a/b/c\n"
              "Allow: /t\nDisallow: /t\n")
    assert allowed(robots, "/a/x", "/a/b/x", "/a/b/cd", "/t", "/tt") == \
        [False, True, False, True, True]


def test_stars_match_any_run_and_a_final_dollar_ends_the_path():
    robots = ("User-agent: *\nDisallow: /*.pdf$\nDisallow: /x*y*z\nDisallow: /exact$\n"
              "Allow: /docs/*.pdf$\nDisallow: /mid$dle\n")
    assert allowed(robots, "/a/b.pdf", "/a/b.pdf?x", "/a/b.pdfs", "/docs/1.pdf") == \
        [False, True, True, True]
    assert allowed(robots, "/xyz", "/x/1/y/2/z/3", "/xzy") == [False, False, True]
    assert allowed(robots, "/exact", "/exact/", "/mid$dle/x") == [False, True, False]


def test_a_star_ending_a_pattern_matches_like_the_prefix_but_counts_its_length():
    robots = "User-agent: *\nAllow: /p\nDisallow: /p*\n"
    assert allowed(robots, "/p", "/px") == [False, False]  # "/p*" is the longer pattern


def test_an_empty_disallow_and_no_matching_rule_allow_everything():
    assert allowed("User-agent: *\nDisallow:\n", "/x") == [True]
    assert allowed("User-agent: *\nDisallow: /private/\n", "/public") == [True]


def test_query_strings_are_part_of_what_rules_match_and_matching_is_case_sensitive():
    robots = "User-agent: *\nDisallow: /search?q=\nDisallow: /Case\n"
    assert allowed(robots, "/search?q=1", "/search", "/Case", "/case") == \
        [False, True, False, True]


def test_robots_txt_itself_is_always_allowed():
    assert allowed("User-agent: *\nDisallow: /\n", "/robots.txt", "/x") == [True, False]


def test_percent_encoding_is_normalised_as_rfc_9309_says():
    # RFC 9309 section 2.2.2's table, both ways round, and unreserved escapes decoded.
    robots = ("User-agent: *\nDisallow: /foo/bar?baz=quz\nDisallow: /ツ/\n"
              "Disallow: /%E3%83%85/\nDisallow: /%62%61%7A\nDisallow: /q%2fr\n")
    assert allowed(robots, "/foo/bar?baz=quz", "/%E3%83%84/1", "/ツ/1", "/ヅ/1",
                   "/baz", "/q%2Fr", "/q/r") == [False, False, False, False, False, False, True]


def test_the_compiled_rules_agree_with_trying_every_rule_on_random_files():
    # Small alphabet, many collisions: shared prefixes, split trie edges, stars, anchors, ties,
    # and over 16 wildcard rules on one node (the indexed path).
    rng = random.Random(5)

    def pattern():
        text = "/" + "".join(rng.choice("ab/*.") for _ in range(rng.randint(0, 6)))
        return text + "$" if rng.random() < 0.2 else text

    for _ in range(40):
        rules = [(rng.random() < 0.4, pattern()) for _ in range(rng.randint(1, 150))]
        robots = "User-agent: *\n" + "".join(
            f"{'Allow' if allow else 'Disallow'}: {p}\n" for allow, p in rules)
        parser = RobotsTxtParser(robots.encode())
        for _ in range(50):
            path = "/" + "".join(rng.choice("ab/.x") for _ in range(rng.randint(0, 8)))
            best = max(((len(p), allow) for allow, p in rules if re.match(
                "".join(".*" if c == "*" else re.escape(c) for c in p.removesuffix("$"))
                + (r"\Z" if p.endswith("$") else ""), path)), default=(0, True))
            assert parser.allowed(f"https://h{path}", UA) == best[1], (robots, path)


# --- what a file may hold -------------------------------------------------------------------

def test_unparseable_lines_and_rules_before_any_group_are_ignored():
    robots = ("Disallow: /early/\n<html><body>not robots</body></html>\nUser-agent *\n"
              "Disallow /spaced/\nDisallow: no-slash\nDisallow: /ok/ # comment\n"
              "Sitemap: https://example.org/s.xml\nCrawl-delay: 5\nnonsense: /x\n"
              "Disallow: /after-sitemap/\n")
    assert allowed(robots, "/early/1", "/spaced/1", "/no-slash", "/ok/1", "/after-sitemap/1") \
        == [True, False, True, False, False]
    assert RobotsTxtParser(robots.encode()).crawl_delay(UA) == 5.0


def test_undecodable_bytes_and_odd_line_ends_are_tolerated():
    robots = (b"\xef\xbb\xbfUser-agent: *\r\nDisallow: /caf\xe9/\rDisallow: /\xff\xfe\x00x/\n"
              b"Disallow: /clean/\n")
    assert allowed(robots, "/caf%E9/1", "/caf%e9/1", "/café/1", "/%FF%FE%00x/", "/clean/1") \
        == [False, False, True, False, False]


def test_only_the_first_500_kib_are_read_and_a_cut_line_is_dropped():
    head = b"User-agent: *\nDisallow: /early/\n"
    body = head + b"#" * (MAX_BYTES - 5 - len(head) - 1) + b"\n"
    body += b"Disallow: /cut/\n"  # starts 5 bytes before the 500 KiB mark
    body += b"Disallow: /late/\n"
    assert allowed(body, "/early/1", "/cut/1", "/late/1") == [False, True, True]
    ends_at_mark = head + b"#" * (MAX_BYTES - 16 - len(head) - 1) + b"\nDisallow: /cut/\n"
    assert len(ends_at_mark) == MAX_BYTES
    assert allowed(ends_at_mark + b"Disallow: /late/\n", "/cut/1", "/late/1") == [False, True]
    assert allowed(head + b"Disallow: /late/\n", "/late/1") == [False]


# --- cost per URL ---------------------------------------------------------------------------

def big_robots(size: int, wildcard_rules: int = 20) -> bytes:
    """Groups for other agents, then a ``*`` group of plain rules and a fixed number of
    wildcard rules: the shape of a big real robots.txt."""
    lines, total, g = [], 0, 0
    while total < size // 2:
        lines += [f"User-agent: otherbot{g}"] + [f"Disallow: /o{g}/s{r}/" for r in range(20)]
        total += sum(len(x) + 1 for x in lines[-21:])
        g += 1
    lines.append("User-agent: *")
    lines += [f"Disallow: /*/secret{w}*.pdf$" for w in range(wildcard_rules)]
    r = 0
    while total < size:
        lines += [f"Disallow: /private{r}/page", f"Allow: /private{r}/page/public"]
        total += len(lines[-1]) + len(lines[-2]) + 2
        r += 1
    return ("\n".join(lines) + "\n").encode()


def test_the_work_per_url_does_not_grow_with_the_file():
    body = big_robots(MAX_BYTES - 1000)
    assert len(body) < MAX_BYTES  # all of it read: about 6,000 rules in the * group
    small, large = RobotsTxtParser(big_robots(2_000)), RobotsTxtParser(body)
    urls = ["/public/collection/v1/objects/1234", "/private17/page/x", "/private17/page/public",
            "/a/secret3/b.pdf", "/o5/s3/"]
    for path in urls:
        for parser in (small, large):
            # One trie walk along the path, and only the fixed 20 wildcard rules on top.
            decision = parser.decide(f"https://h{path}", UA)
            assert decision.steps <= len(path) + 1 and decision.patterns <= 20, (path, decision)
    assert large.decide("https://h/private17/page/x", UA).why == "Disallow: /private17/page"
    assert large.decide("https://h/a/secret3/b.pdf", UA).why == "Disallow: /*/secret3*.pdf$"


def test_a_path_tries_only_the_wildcard_rules_whose_text_it_holds():
    robots = "User-agent: *\n" + "".join(f"Disallow: /*/s{r}/*.pdf$\n" for r in range(5000))
    parser = RobotsTxtParser(robots.encode())
    assert len(robots) < MAX_BYTES
    plain = parser.decide("https://h/public/collection/v1/objects/1234", UA)
    assert plain.allowed and plain.patterns <= 50, plain
    hit = parser.decide("https://h/x/s1234/y.pdf", UA)
    assert not hit.allowed and hit.why == "Disallow: /*/s1234/*.pdf$" and hit.patterns <= 50
    assert parser.allowed("https://h/x/s1234/y.pdfx", UA)
    assert parser.allowed("https://h/x/s43210/y.pdf", UA)  # no "/s43210/" rule
    assert not parser.allowed("https://h/a/b/s4321/c/d.pdf", UA)


# --- real crawls ----------------------------------------------------------------------------

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
            buf = io.BytesIO()
            Image.new("RGB", (40, 30), (i * 7 % 256, i * 13 % 256, 99)).save(buf, "PNG")
            self.files[f"/img/{i}.png"] = buf.getvalue()

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
