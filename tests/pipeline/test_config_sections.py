"""The demo, crawl and curate sections of params.yaml are checked before any work: a typo (in a
section, a crawl source or a nested curate.licence), a value of the wrong kind or a missing key
is exit status 2 and a message naming the key (and the valid keys), from the real commands.

Every case fails before anything is built, crawled or curated, so these tests are fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crawl.__main__ import main as crawl_main
from crawl.run import check_settings
from crawl.spiders import spiders
from crawl.spiders.base import SOURCE_KEYS
from curate.__main__ import main as curate_main
from curate.settings import SPEC as CURATE_SPEC
from demo.__main__ import main as demo_main
from demo.settings import SPEC as DEMO_SPEC
from marcus.config import check

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture
def params_file(tmp_path):
    """``edit(fn)``: a copy of the repository's params.yaml, changed by ``fn(params)``, with
    every path under tmp_path; returns its path."""
    def edit(change=None) -> Path:
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        params["paths"] = {name: str(tmp_path / "out" / name) for name in params["paths"]}
        if change is not None:
            change(params)
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        return path
    return edit


def run_demo(path: Path) -> list[str]:
    return ["build", "--params", str(path)]


def run_crawl(path: Path, source: str = "met") -> list[str]:
    return [source, "--params", str(path)]


def run_curate(path: Path, command: str = "run") -> list[str]:
    if command == "hash":  # --params after the subcommand works too
        return ["hash", "met", "--params", str(path)]
    return ["--params", str(path), command]


def refused(main, argv, capsys, tmp_path) -> str:
    """The command's message: it must exit 2 and leave nothing behind."""
    assert main(argv) == 2
    assert not (tmp_path / "out").exists(), "the command did work before checking its params"
    return capsys.readouterr().err


def valid_keys(spec) -> str:
    return "valid keys: " + ", ".join(spec)


# --- the committed file ------------------------------------------------------------------------

def test_the_committed_params_yaml_passes_every_section_check():
    check("demo", PARAMS["demo"], DEMO_SPEC)
    check("curate", PARAMS["curate"], CURATE_SPEC)
    check_settings(PARAMS["crawl"])


def test_every_spider_has_a_source_section_with_exactly_its_keys():
    sources = PARAMS["crawl"]["sources"]
    assert set(sources) == set(spiders())
    for name, spider in spiders().items():
        assert set(sources[name]) == set(SOURCE_KEYS) | set(spider.KEYS), name
        assert not set(spider.KEYS) & set(SOURCE_KEYS), f"{name} redeclares a common key"


# --- unknown keys ------------------------------------------------------------------------------

def test_a_typo_in_the_demo_section_is_an_error_naming_the_valid_keys(params_file, capsys,
                                                                      tmp_path):
    path = params_file(lambda p: p["demo"].update(artwork=30))
    err = refused(demo_main, run_demo(path), capsys, tmp_path)
    assert "demo: unknown key 'artwork'" in err and valid_keys(DEMO_SPEC) in err


def test_a_typo_in_the_crawl_section_is_an_error_naming_the_valid_keys(params_file, capsys,
                                                                       tmp_path):
    path = params_file(lambda p: p["crawl"].update(retires=2))
    err = refused(crawl_main, run_crawl(path), capsys, tmp_path)
    assert "crawl: unknown key 'retires'" in err
    assert "valid keys: demo_port, contact, user_agent" in err and "retries" in err


def test_a_typo_in_a_crawl_source_is_an_error_naming_the_valid_keys(params_file, capsys,
                                                                    tmp_path):
    path = params_file(lambda p: p["crawl"]["sources"]["aic"].update(iiif_witdh=600))
    # Any source's typo stops every crawl: the whole section is checked.
    for source in ("aic", "met"):
        err = refused(crawl_main, run_crawl(path, source), capsys, tmp_path)
        assert "crawl.sources.aic: unknown key 'iiif_witdh'" in err
        assert valid_keys(spiders()["aic"].config_spec()) in err
        assert "iiif_width" in err and "public_domain_only" in err and "department_ids" not in err


def test_a_key_of_another_spider_is_an_unknown_key_of_this_source(params_file, capsys, tmp_path):
    path = params_file(lambda p: p["crawl"]["sources"]["nga"].update(department_ids=[11]))
    err = refused(crawl_main, run_crawl(path, "nga"), capsys, tmp_path)
    assert "crawl.sources.nga: unknown key 'department_ids'" in err
    assert "classifications" in err and "csv_timeout_s" in err


def test_a_source_with_no_spider_is_an_error_naming_the_sources(params_file, capsys, tmp_path):
    path = params_file(lambda p: p["crawl"]["sources"].update(
        clevland=p["crawl"]["sources"]["cleveland"]))
    err = refused(crawl_main, run_crawl(path), capsys, tmp_path)
    assert "crawl.sources: unknown source 'clevland'" in err
    assert "met, aic, cleveland, nga, commons, urls" in err


@pytest.mark.parametrize("command", ["run", "hash"])
def test_a_typo_in_the_curate_section_is_an_error_naming_the_valid_keys(params_file, capsys,
                                                                        tmp_path, command):
    path = params_file(lambda p: p["curate"].update(min_pixel=10))
    err = refused(curate_main, run_curate(path, command), capsys, tmp_path)
    assert "curate: unknown key 'min_pixel'" in err and valid_keys(CURATE_SPEC) in err


def test_a_typo_in_curate_licence_names_the_nested_key_and_its_valid_keys(params_file, capsys,
                                                                          tmp_path):
    path = params_file(lambda p: p["curate"]["licence"].update(min_years_since_deaht=71))
    err = refused(curate_main, run_curate(path), capsys, tmp_path)
    assert "curate.licence: unknown key 'min_years_since_deaht'" in err
    assert "valid keys: min_years_since_death, undated_min_age_years" in err


# --- kinds -------------------------------------------------------------------------------------

@pytest.mark.parametrize("section,key,value,message", [
    ("demo", "artworks", "many", "demo.artworks must be an integer, got 'many'"),
    ("demo", "hostile", "yes", "demo.hostile must be true or false, got 'yes'"),
])
def test_a_demo_value_of_the_wrong_kind_is_an_error_saying_what_kind(
        params_file, capsys, tmp_path, section, key, value, message):
    path = params_file(lambda p: p[section].update({key: value}))
    assert message in refused(demo_main, run_demo(path), capsys, tmp_path)


@pytest.mark.parametrize("where,value,message", [
    (("fsync",), "yes", "crawl.fsync must be true or false, got 'yes'"),
    (("log_level",), "loud", "crawl.log_level must be one of 'DEBUG', 'INFO', 'WARNING'"),
    (("sources", "cleveland", "image_variant"), "huge",
     "crawl.sources.cleveland.image_variant must be one of 'web', 'print', 'full', got 'huge'"),
    (("sources", "met", "department_ids"), 11,
     "crawl.sources.met.department_ids must be a list of integers, got 11"),
    (("sources", "commons", "delay_s"), "0.3s",
     "crawl.sources.commons.delay_s must be a number, got '0.3s'"),
])
def test_a_crawl_value_of_the_wrong_kind_is_an_error_saying_what_kind(
        params_file, capsys, tmp_path, where, value, message):
    def change(p):
        section = p["crawl"]
        for key in where[:-1]:
            section = section[key]
        section[where[-1]] = value
    err = refused(crawl_main, run_crawl(params_file(change)), capsys, tmp_path)
    assert message in err


@pytest.mark.parametrize("key,value,message", [
    ("date_window", [1400], "curate.date_window must be a list of 2 integers, got [1400]"),
    ("hf_export", "no", "curate.hf_export must be true or false, got 'no'"),
    ("dedup", 10, "curate.dedup must be a mapping of settings, got 10"),
])
def test_a_curate_value_of_the_wrong_kind_is_an_error_saying_what_kind(
        params_file, capsys, tmp_path, key, value, message):
    path = params_file(lambda p: p["curate"].update({key: value}))
    assert message in refused(curate_main, run_curate(path), capsys, tmp_path)


# --- missing keys ------------------------------------------------------------------------------

def test_a_missing_key_is_an_error_naming_it(params_file, capsys, tmp_path):
    path = params_file(lambda p: p["demo"].pop("seed"))
    assert "demo: missing key 'seed'" in refused(demo_main, run_demo(path), capsys, tmp_path)

    path = params_file(lambda p: p["crawl"]["sources"]["commons"].pop("maxlag"))
    err = refused(crawl_main, run_crawl(path), capsys, tmp_path)
    assert "crawl.sources.commons: missing key 'maxlag'" in err

    path = params_file(lambda p: p["curate"]["dedup"].pop("max_distance"))
    err = refused(curate_main, run_curate(path), capsys, tmp_path)
    assert "curate.dedup: missing key 'max_distance'" in err


def test_the_demo_build_needs_its_params_file(tmp_path, capsys):
    err = refused(demo_main, ["--params", str(tmp_path / "none.yaml"), "build", "--out",
                              str(tmp_path / "out")], capsys, tmp_path)
    assert "demo: params file not found" in err


# --- settings that only make sense together ----------------------------------------------------

def test_a_url_list_crawl_off_the_demo_without_a_list_is_an_error(params_file, capsys, tmp_path):
    path = params_file(lambda p: p["crawl"]["sources"]["urls"].update(api_root=""))
    err = refused(crawl_main, run_crawl(path, "urls"), capsys, tmp_path)
    assert "crawl: crawl.sources.urls.list is not set" in err


def test_a_source_priority_naming_no_crawled_source_is_an_error(params_file, capsys, tmp_path):
    path = params_file(lambda p: p["curate"].update(source_priority=["met", "ngaa"]))
    err = refused(curate_main, run_curate(path), capsys, tmp_path)
    assert "curate.source_priority: 'ngaa' is not a source of crawl.sources" in err
