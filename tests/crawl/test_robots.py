"""robots.txt per RFC 9309 (crawl/robots.py): groups, rules, what a file may hold, and a cost per
URL that does not grow with the file. Real crawls that obey it are in test_e2e_robots.py.
"""

import random
import re

from crawl.robots import MAX_BYTES, RobotsTxtParser

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
