"""robots.txt per RFC 9309: read up to 500 KiB, compiled once per host, O(path) per URL.

crawl/run.py wires both classes in (ROBOTSTXT_OBEY is on):

    ROBOTSTXT_PARSER = "crawl.robots.RobotsTxtParser"
    DOWNLOADER_MIDDLEWARES: Scrapy's RobotsTxtMiddleware -> crawl.robots.RobotsTxtMiddleware

Why not Scrapy's default (Protego): it reads the whole file, however big, and its per-URL
``can_fetch`` walks the rules of the matching group in order, so a big robots.txt costs on
every request: with a 3 MB file, three orders of magnitude more per URL than with a small one
(benchmarks/results/crawl_robots.json). Here a file is parsed once per host and only the group
we obey is compiled:

- plain rules (``/a/b``, and ``/a/b$`` for an exact path) sit in a radix trie walked once along
  the URL's path: at most len(path) steps, whatever the number of rules;
- wildcard rules (``*``) hang off the trie node of their literal prefix (``/*.pdf$`` off
  ``/``), each compiled to a regex of atomic groups (no backtracking blow-up: linear in the
  path per ``*``). They are tried, longest first, only when the walk passes their prefix, when
  they are longer than the best match so far, and when their longest literal part occurs in
  the path: a fraction of a microsecond each. A real file has a few dozen; from 16 on one node
  they are also filed by a 3-character piece of their text, so a path tries only those filed
  under its own pieces (O(len(path)) lookups): 500 KiB of nothing but wildcard rules costs
  tens of microseconds per URL, not milliseconds (measured).

``python -m benchmarks crawl_robots`` measures both side by side (results in
benchmarks/results/crawl_robots.json). ``RobotsTxtParser.decide(url, agent)`` says which rule
decided a URL; a refused request's error names it ("Forbidden by robots.txt (Disallow: /x)").

RFC 9309 as implemented:

- Size: only the first 500 KiB are parsed (section 2.5), cut after the last complete line.
  The download itself stops there too: the middleware ends a robots.txt download once more
  than 500 KiB arrived (Scrapy's StopDownload(fail=False) keeps what came), and an unencoded
  robots.txt is not refused for declaring more than ``crawl.max_bytes``. A compressed one stays
  under max_bytes, which also bounds what it inflates to (a gzip bomb is refused).
- Groups: the group naming our product token (case-insensitive, the name before "/" in the
  User-Agent, "MarcusBot"), all such groups merged; if none, the group of another product our
  User-Agent names ("Scrapy": a site that shuts Scrapy out means us too); else ``*``; else no
  rules. Rules before any User-agent line are ignored; other lines (Sitemap, Crawl-delay,
  unknown keys) do not end a group.
- Rules: longest pattern wins, Allow wins a tie; ``*`` matches any run of characters; a final
  ``$`` ends the match; an empty Disallow matches nothing; a pattern that starts with neither
  "/" nor "*" is unparseable and ignored. Matching is case-sensitive on path and query.
- Percent-encoding (section 2.2.2): in both patterns and URLs, octets outside ASCII and
  characters a URI may not hold are percent-encoded, %xx of an unreserved character is
  decoded (``%7E`` = ``~``), others are kept (upper-cased); so ``/ツ`` matches ``/%E3%83%84``.
- /robots.txt itself is always allowed; unparseable lines are ignored; the file is handled as
  octets, so bytes that are not UTF-8 are tolerated (a Latin-1 é in a rule is ``%E9``).

What an unanswered robots.txt means (section 2.3.1), after PoliteRetryMiddleware's retries:

- 4xx (not 429), or a 3xx left unfollowed: "unavailable", everything allowed (also Scrapy's).
- 5xx, 429, a timeout or a lost connection: "unreachable". RFC 9309 says assume a complete
  disallow; Scrapy allows everything. Here every request to that host is refused (rows with
  reason ``robots`` saying why) for ``crawl.robots_recheck_s`` seconds, then robots.txt is asked
  for again; each new run asks again too. A transient outage costs a rerun, never a site.
- A robots.txt request refused by us (a redirect off the source's allowed origins, more than
  REDIRECT_MAX_TIMES redirects): "unavailable", everything allowed, as in Scrapy; logged.

Also fixed here: in Scrapy 2.19's RobotsTxtMiddleware the requests that wait for a host's
robots.txt while it downloads get no parser and are let through unchecked (only the first one
is checked); here every one of them is.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from typing import NamedTuple
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxt
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

MAX_BYTES = 500 * 1024  # RFC 9309 section 2.5: parse at least this much, may stop there

_USER_AGENT, _ALLOW, _DISALLOW, _CRAWL_DELAY = "user-agent", "allow", "disallow", "crawl-delay"
# Keys as written in the wild; misspelt Disallows are obeyed (refusing more is the safe side).
_KEYS = {b"user-agent": _USER_AGENT, b"useragent": _USER_AGENT, b"user agent": _USER_AGENT,
         b"allow": _ALLOW, b"disallow": _DISALLOW, b"dissallow": _DISALLOW,
         b"dissalow": _DISALLOW, b"disalow": _DISALLOW, b"diasllow": _DISALLOW,
         b"disallaw": _DISALLOW, b"crawl-delay": _CRAWL_DELAY}
_PRODUCT = re.compile(rb"[A-Za-z_-]+")  # RFC 9309 product-token (identifier)
_UA_PRODUCT = re.compile(r"[A-Za-z_-]+")

# Percent-encoding normalisation (RFC 9309 section 2.2.2, RFC 3986 section 2).
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_NEEDS_NO_CHANGE = re.compile(rb"[A-Za-z0-9\-._~!$&'()*+,;=:@/?\[\]]*").fullmatch
_TO_NORMALISE = re.compile(rb"%([0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?\[\]%]")


def _normalise_match(match: re.Match) -> bytes:
    hexpair = match.group(1)
    if hexpair is None:  # an octet a URI cannot hold as it is: non-ASCII, space, control, "<"
        return b"%%%02X" % match.group(0)[0]
    octet = int(hexpair, 16)
    return bytes((octet,)) if octet in _UNRESERVED else b"%" + hexpair.upper()


def normalise(raw: bytes) -> str:
    """Octets of a path or pattern as RFC 9309 compares them (ASCII text)."""
    if _NEEDS_NO_CHANGE(raw):
        return raw.decode("ascii")
    return _TO_NORMALISE.sub(_normalise_match, raw).decode("ascii")


# An absolute URL whose path and query need no normalising (most do): taken as it is.
_PLAIN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*"
                        r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*)?)")


def url_path(url: str) -> str:
    """The part of ``url`` rules match against: path and query, normalised; "/" if empty."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain:
        return plain.group(1)
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query or url.partition("#")[0].endswith("?"):
        path += "?" + parts.query
    try:
        octets = path.encode("utf-8", "surrogateescape")  # a bytes URL's undecodable octets
    except UnicodeEncodeError:
        octets = path.encode("utf-8", "surrogatepass")
    return normalise(octets)


def product_tokens(user_agent: str | bytes) -> list[str]:
    """The products a User-Agent names, lower-cased, ours first: "marcusbot", "scrapy"."""
    if isinstance(user_agent, bytes):
        user_agent = user_agent.decode("latin-1")
    text = re.sub(r"\([^)]*\)", " ", user_agent)  # (comments) name no product
    tokens: list[str] = []
    for word in text.split():
        name = word.split("/", 1)[0]
        if _UA_PRODUCT.fullmatch(name) and name.lower() not in tokens:
            tokens.append(name.lower())
    return tokens


class Decision(NamedTuple):
    allowed: bool
    why: str | None  # the rule that decided ("Disallow: /x"), or why no rule applies
    steps: int  # trie nodes visited: at most len(path) + 1, whatever the file's size
    patterns: int  # wildcard rules tried


class _Rule(NamedTuple):
    priority: int  # length of the normalised pattern: the longest match wins
    allow: bool  # True > False: Allow wins a tie
    text: str  # "Disallow: /x", for messages


class _Node:
    __slots__ = ("edges", "prefix", "exact", "wild")

    def __init__(self) -> None:
        self.edges: dict[str, tuple[str, _Node]] = {}  # first char -> (label, child)
        self.prefix: _Rule | None = None  # best rule whose pattern ends here
        self.exact: _Rule | None = None  # best "pattern$" rule ending here
        self.wild: _Wildcards | None = None  # rules with "*" whose literal prefix ends here


def _node_for(root: _Node, key: str) -> _Node:
    """The node for ``key``, created (splitting an edge if need be) when missing."""
    node, i = root, 0
    while i < len(key):
        edge = node.edges.get(key[i])
        if edge is None:
            child = _Node()
            node.edges[key[i]] = (key[i:], child)
            return child
        label, child = edge
        common = 0
        limit = min(len(label), len(key) - i)
        while common < limit and label[common] == key[i + common]:
            common += 1
        if common < len(label):  # split the edge at the point where key leaves it
            middle = _Node()
            middle.edges[label[common]] = (label[common:], child)
            node.edges[key[i]] = (label[:common], middle)
            child = middle
        node, i = child, i + common
    return node


def _wildcard_regex(rest: str, anchored: bool) -> re.Pattern:
    """``rest`` (a pattern after its literal prefix, starting with "*") as a regex matched at the
    prefix's end. Each literal part is found at its leftmost place and kept (atomic group),
    which is the right answer for "*" and never backtracks: linear in the path per part."""
    parts = [re.escape(p) for p in rest.split("*") if p]
    if anchored:
        last = parts.pop() if parts else ""
        tail = rf".*{last}\Z"
    else:
        tail = ""
    return re.compile("".join(f"(?>.*?{p})" for p in parts) + tail, re.DOTALL)


_GRAM = 3  # characters of the piece of text each indexed wildcard rule is filed under
_INDEX_FROM = 16  # wildcard rules on one node from which they are indexed


class _Wildcards:
    """The wildcard rules hanging off one trie node, longest first (Allow first on ties).

    From 16 on, each is filed under one 3-character piece of its literal text (the piece
    rarest among this node's rules), which every path it matches holds: a path tries only the
    rules filed under its own pieces, plus those with no literal text that long. Without this a
    500 KiB file of wildcard rules would have every URL try all of them."""

    def __init__(self, entries: list[tuple[_Rule, list[str], re.Pattern]]):
        entries = sorted(entries, key=lambda e: e[0][:2], reverse=True)
        self.rules = [(rule, max(parts, key=len, default=""), regex)
                      for rule, parts, regex in entries]
        self.index: dict[str, list[int]] | None = None
        self.always: list[int] = []
        if len(entries) < _INDEX_FROM:
            return
        pieces = [{p[j:j + _GRAM] for p in parts for j in range(len(p) - _GRAM + 1)}
                  for _, parts, _ in entries]
        counts = Counter(piece for rule_pieces in pieces for piece in rule_pieces)
        self.index = {}
        for k, rule_pieces in enumerate(pieces):
            if rule_pieces:
                self.index.setdefault(min(rule_pieces, key=lambda p: (counts[p], p)), []).append(k)
            else:
                self.always.append(k)

    def candidates(self, path: str, at: int):
        """Indices into ``rules`` (so longest first) of those that may match path[at:]."""
        if self.index is None:
            return range(len(self.rules))
        found = set(self.always)
        index = self.index
        for j in range(at, len(path) - _GRAM + 1):
            bucket = index.get(path[j:j + _GRAM])
            if bucket:
                found.update(bucket)
        return sorted(found)


class _RuleSet:
    """One group's rules, compiled: a radix trie of literal prefixes."""

    def __init__(self, rules: list[tuple[bool, bytes]]):
        self.root = _Node()
        self.rule_count = 0
        wild: dict[int, tuple[_Node, list]] = {}
        for allow, raw in rules:
            pattern = normalise(raw)
            if not pattern.startswith(("/", "*")):
                continue  # RFC 9309: a path pattern starts with "/"; "*" too, in practice
            rule = _Rule(len(pattern), allow, f"{'Allow' if allow else 'Disallow'}: {pattern}")
            anchored = pattern.endswith("$")
            body = pattern[:-1] if anchored else pattern
            if body.endswith("*"):  # "/a*" and "/a*$" match what the prefix "/a" matches
                body, anchored = body.rstrip("*"), False
            self.rule_count += 1
            star = body.find("*")
            if star < 0:
                node = _node_for(self.root, body)
                slot = "exact" if anchored else "prefix"
                best = getattr(node, slot)
                if best is None or rule > best:
                    setattr(node, slot, rule)
                continue
            node = _node_for(self.root, body[:star])
            parts = [p for p in body[star:].split("*") if p]  # each must occur in the path
            wild.setdefault(id(node), (node, []))[1].append(
                (rule, parts, _wildcard_regex(body[star:], anchored)))
        for node, entries in wild.values():
            node.wild = _Wildcards(entries)

    def decide(self, path: str) -> tuple[_Rule | None, int, int]:
        best: _Rule | None = None
        passed: list[tuple[_Node, int]] = []  # nodes with wildcard rules, and where they end
        node, i, n, steps = self.root, 0, len(path), 0
        while True:
            steps += 1
            if node.prefix is not None and (best is None or node.prefix > best):
                best = node.prefix
            if i == n and node.exact is not None and (best is None or node.exact > best):
                best = node.exact
            if node.wild:
                passed.append((node, i))
            if i >= n:
                break
            edge = node.edges.get(path[i])
            if edge is None or not path.startswith(edge[0], i):
                break
            i += len(edge[0])
            node = edge[1]
        tried = 0
        for node, at in passed:
            wild = node.wild
            for k in wild.candidates(path, at):
                rule, longest, regex = wild.rules[k]
                if best is not None and rule[:2] <= best[:2]:
                    break  # this node's others are shorter still
                tried += 1
                if path.find(longest, at) >= 0 and regex.match(path, at):
                    best = rule
                    break
        return best, steps, tried


class RobotsTxtParser(RobotParser):
    """Scrapy's ROBOTSTXT_PARSER interface over one host's robots.txt (see the module doc)."""

    def __init__(self, body: bytes, max_bytes: int = MAX_BYTES):
        self.truncated = len(body) > max_bytes
        if self.truncated:  # RFC 9309 2.5: stop at the limit, after the last complete line
            body = body[:max_bytes]
            end = max(body.rfind(b"\n"), body.rfind(b"\r"))
            body = body[:end + 1]
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        # agent -> its rules (Allow?, pattern octets), groups of one agent merged in file order
        self._rules: dict[str, list[tuple[bool, bytes]]] = {}
        self._delays: dict[str, float] = {}
        self._compiled: dict[str, tuple[_RuleSet | None, str | None]] = {}  # by User-Agent
        self._parse(body)

    @classmethod
    def from_crawler(cls, crawler, robotstxt_body: bytes) -> RobotsTxtParser:
        return cls(robotstxt_body)

    def _parse(self, body: bytes) -> None:
        agents: list[str] = []  # of the group being read
        in_rules = True  # a User-agent line after a rule starts a new group
        for line in body.splitlines():
            line = line.split(b"#", 1)[0].strip()
            if not line:
                continue
            key, _, value = line.partition(b":")
            field = _KEYS.get(key.strip().lower())
            if field is None:  # "Disallow /x": some write it without the colon
                words = line.split(None, 1)
                field = _KEYS.get(words[0].lower())
                value = words[1] if len(words) > 1 else b""
                if field is None:
                    continue  # Sitemap, Host, an unknown key, or a line that is no record
            value = value.strip()
            if field == _USER_AGENT:
                if in_rules:
                    agents, in_rules = [], False
                agent = "*" if value.startswith(b"*") else None
                if agent is None and (match := _PRODUCT.match(value)):
                    agent = match.group().decode("ascii").lower()
                if agent is not None and agent not in agents:
                    agents.append(agent)
                    self._rules.setdefault(agent, [])
            elif field in (_ALLOW, _DISALLOW):
                in_rules = True
                if value:  # an empty Disallow is a rule that matches nothing
                    for agent in agents:
                        self._rules[agent].append((field == _ALLOW, value))
            elif field == _CRAWL_DELAY:
                try:
                    delay = float(value)
                except ValueError:
                    continue
                if delay >= 0 and delay != float("inf"):
                    for agent in agents:
                        self._delays.setdefault(agent, delay)

    def _group(self, user_agent: str | bytes) -> tuple[_RuleSet | None, str | None]:
        """The compiled group ``user_agent`` obeys and its agent; compiled once, on first use."""
        key = user_agent.decode("latin-1") if isinstance(user_agent, bytes) else user_agent
        found = self._compiled.get(key)
        if found is None:
            agent = next((t for t in product_tokens(key) if t in self._rules),
                         "*" if "*" in self._rules else None)
            found = (_RuleSet(self._rules[agent]) if agent else None, agent)
            self._compiled[key] = found
        return found

    def decide(self, url: str | bytes, user_agent: str | bytes) -> Decision:
        """Whether ``user_agent`` may fetch ``url``, the rule that said so, and the work done."""
        if isinstance(url, bytes):
            url = url.decode("utf-8", "surrogateescape")
        path = url_path(url)
        if path.partition("?")[0] == "/robots.txt":
            return Decision(True, "/robots.txt is always allowed", 0, 0)
        rules, agent = self._group(user_agent)
        if rules is None:
            return Decision(True, "no group applies", 0, 0)
        rule, steps, tried = rules.decide(path)
        if rule is None:
            return Decision(True, f"no rule of group {agent!r} matches", steps, tried)
        return Decision(rule.allow, rule.text, steps, tried)

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return self.decide(url, user_agent).allowed

    def crawl_delay(self, user_agent: str | bytes) -> float | None:
        _, agent = self._group(user_agent)
        return self._delays.get(agent) if agent else None


class Unreachable:
    """The verdict for a host whose robots.txt did not answer: nothing allowed until ``until``
    (time.monotonic()), then the middleware asks again."""

    def __init__(self, why: str, until: float):
        self.why, self.until = why, until

    def decide(self, url, user_agent) -> Decision:
        return Decision(False, f"robots.txt unreachable: {self.why}", 0, 0)

    def allowed(self, url, user_agent) -> bool:
        return False

    def crawl_delay(self, user_agent) -> float | None:
        return None


_ROBOTS_REQUEST = "marcus_robots_txt"  # meta flag of the robots.txt requests made here


class RobotsTxtMiddleware(ScrapyRobotsTxt):
    """Scrapy's RobotsTxtMiddleware with RFC 9309's answer to an unreachable robots.txt, the
    500 KiB download cap, and refusals that name their rule (see the module doc).

    Settings: ROBOTSTXT_PARSER (any Scrapy parser works), MARCUS_ROBOTS_RECHECK_S.
    """

    def __init__(self, crawler):
        super().__init__(crawler)
        self.recheck_s = crawler.settings.getfloat("MARCUS_ROBOTS_RECHECK_S", 300.0)
        self._downloading = 0

    async def robot_parser(self, request: Request):
        netloc = urlparse_cached(request).netloc
        known = self._parsers.get(netloc)
        if isinstance(known, Unreachable) and time.monotonic() >= known.until:
            del self._parsers[netloc]  # ask again
        if netloc not in self._parsers:
            self._parsers[netloc] = waiting = Deferred()
            try:
                parser = await self._fetch(request)
            except Exception:  # noqa: BLE001 - never leave the host's requests waiting
                logger.exception("reading robots.txt of %s failed: no rules for it", netloc)
                parser = None
            self._parsers[netloc] = parser
            waiting.callback(parser)
            return parser
        parser = self._parsers[netloc]
        while isinstance(parser, Deferred):
            # Not the Deferred's result: as a future it goes to the first waiter only, and the
            # others would get None, "no rules" (Scrapy 2.19's own middleware does that: the
            # requests queued behind a host's first one are never checked).
            await maybe_deferred_to_future(parser)
            parser = self._parsers[netloc]
        return parser

    async def _fetch(self, request: Request):
        """The parser for request's host: a RobotParser, Unreachable, or None (no rules)."""
        url = urlparse_cached(request)
        robots_url = f"{url.scheme}://{url.netloc}/robots.txt"
        robots = Request(robots_url, priority=self.DOWNLOAD_PRIORITY, callback=NO_CALLBACK,
                         meta={"dont_obey_robotstxt": True, _ROBOTS_REQUEST: True})
        self._stats.inc_value("robotstxt/request_count")
        self._count_download(+1)
        try:
            response = await self.crawler.engine.download_async(robots)
        except IgnoreRequest as exc:
            logger.warning("%s refused (%s): no robots.txt rules for %s", robots_url, exc,
                           url.netloc)
            return None
        except Exception as exc:  # noqa: BLE001 - whatever it was, the file did not come
            self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
            return self._unreachable(robots_url, f"{type(exc).__name__}: {exc}"[:300])
        finally:
            self._count_download(-1)
        status = response.status
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{status}")
        if status == 429 or status >= 500:
            return self._unreachable(robots_url, f"HTTP {status}")
        if not 200 <= status < 300:
            return None  # 4xx, or a 3xx left unfollowed: "unavailable", no rules
        if len(response.body) > MAX_BYTES:
            logger.warning("%s is over %d KiB: only that much is read (RFC 9309 2.5)",
                           robots_url, MAX_BYTES // 1024)
        parser = build_from_crawler(self._parserimpl, self.crawler, response.body)
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=parser, request=request)
        return parser

    def _unreachable(self, robots_url: str, why: str) -> Unreachable:
        self._stats.inc_value("robotstxt/unreachable")
        logger.warning("%s unreachable (%s): its host counts as all disallowed for %.0f s "
                       "(RFC 9309 2.3.1.4)", robots_url, why, self.recheck_s)
        return Unreachable(f"{why}; asked again after {self.recheck_s:.0f} s",
                           time.monotonic() + self.recheck_s)

    def process_request_2(self, rp, request: Request) -> None:
        if not isinstance(rp, (RobotsTxtParser, Unreachable)):
            return super().process_request_2(rp, request)
        agent = self._robotstxt_useragent or request.headers.get(b"User-Agent",
                                                                 self._default_useragent)
        decision = rp.decide(request.url, agent)
        if not decision.allowed:
            self._stats.inc_value("robotstxt/forbidden")
            raise IgnoreRequest(f"Forbidden by robots.txt ({decision.why})")

    # The download cap: listened to only while a robots.txt download is under way, so that
    # image downloads do not pay for a signal receiver on every chunk.

    def _count_download(self, change: int) -> None:
        before, self._downloading = self._downloading, self._downloading + change
        if before == 0 and self._downloading > 0:
            self.crawler.signals.connect(self._headers_received, signals.headers_received)
            self.crawler.signals.connect(self._bytes_received, signals.bytes_received)
        elif before > 0 and self._downloading == 0:
            self.crawler.signals.disconnect(self._headers_received, signals.headers_received)
            self.crawler.signals.disconnect(self._bytes_received, signals.bytes_received)

    def _headers_received(self, headers, request, **kwargs) -> None:
        if request.meta.get(_ROBOTS_REQUEST):
            request.meta["marcus_robots_bytes"] = 0  # a retry starts counting afresh
            if not headers.get(b"Content-Encoding"):
                # Scrapy would refuse a declared length over DOWNLOAD_MAXSIZE before reading
                # any of it; this body is stopped after MAX_BYTES instead. (Read by the
                # HTTP/1.1 handler after this signal; a compressed body keeps the limit, which
                # also bounds its inflated size.)
                request.meta["download_maxsize"] = 0

    def _bytes_received(self, data, request, **kwargs) -> None:
        if request.meta.get(_ROBOTS_REQUEST):
            seen = request.meta.get("marcus_robots_bytes", 0) + len(data)
            request.meta["marcus_robots_bytes"] = seen
            if seen > MAX_BYTES:  # one octet more than is read: the parser sees the cut
                raise StopDownload(fail=False)
