"""curate.identity: same_as links join clusters, share genre and movement across a painting's
records, and are reported with what the hashes say of each; curate.filters' genre rule."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from curate.filters import FilterConfig, failed_rules, genre_matches
from curate.identity import join_linked, link_metrics, links_of


def records(*rows: tuple) -> pd.DataFrame:
    """(key, cluster_id, same_as, genre) rows as curate has them after clustering."""
    frame = pd.DataFrame(rows, columns=["key", "cluster_id", "same_as", "genre"])
    return frame.assign(movement=None, matched_by="")


def test_a_link_between_two_clusters_joins_them_under_the_smaller_id():
    out, report = join_linked(records(
        ("aic:5", 3, None, None), ("met:7", 8, None, None),
        ("wikidata:Q1", 3, "met:7|aic:5", "portrait")))
    assert out["cluster_id"].tolist() == [3, 3, 3]
    assert out["matched_by"].tolist() == ["", "same_as", ""]
    assert dict(zip(report["linked_key"], report["state"], strict=True)) == {
        "met:7": "merged", "aic:5": "agree"}


def test_links_chain_through_records_into_one_identity():
    out, _ = join_linked(records(
        ("a:1", 1, "b:2", None), ("b:2", 2, "c:3", None), ("c:3", 5, None, None),
        ("d:4", 4, None, None)))
    assert out["cluster_id"].tolist() == [1, 1, 1, 4]
    assert out["identity"].tolist() == ["a:1", "a:1", "a:1", "d:4"]


def test_genre_stated_by_one_record_is_shared_by_every_record_of_the_painting():
    out, _ = join_linked(records(
        ("met:7", -1, None, None),  # metadata only: no image, still the same painting
        ("nga:9", 2, None, "landscape"), ("wikidata:Q1", 2, "met:7", "portrait"),
        ("aic:1", 6, None, None)))
    genres = out["genre"].tolist()
    assert genres[:3] == ["landscape|portrait", "landscape", "portrait"]
    assert pd.isna(genres[3])


def test_links_to_unstored_or_missing_records_are_reported_not_merged():
    out, report = join_linked(records(
        ("met:7", -1, None, None), ("wikidata:Q1", 2, "met:7|aic:404|nonsense||:x", None)))
    assert out["cluster_id"].tolist() == [-1, 2]
    assert report[["linked_key", "resolved", "state"]].values.tolist() == [
        ["met:7", True, "unstored"], ["aic:404", False, "unresolved"]]
    assert link_metrics(report) == {"links": 2, "agree": 0, "merged": 0, "unstored": 1,
                                    "unresolved": 1, "ambiguous": 0}


def test_a_record_linking_to_itself_or_twice_to_one_record_is_one_link_or_none():
    links = links_of(records(("met:7", 1, "met:7|aic:5|aic:5", None), ("aic:5", 1, None, None)))
    assert links[["key", "linked_key"]].values.tolist() == [["met:7", "aic:5"]]


def test_no_links_at_all_changes_nothing():
    given = records(("a:1", 1, None, "portrait"), ("b:2", -1, None, None))
    out, report = join_linked(given)
    assert out["cluster_id"].tolist() == [1, -1]
    assert out["genre"].iloc[0] == "portrait" and pd.isna(out["genre"].iloc[1])
    assert report.empty and link_metrics(report)["links"] == 0


def test_a_crawl_in_which_no_record_states_a_genre_or_movement_is_joined_as_it_is():
    # As read from Parquet (an all-null string column, e.g. a crawl of Cleveland alone,
    # whose API has no genre): filling the column must not try to write a float into it.
    table = pa.table({"key": ["a:1", "b:2"], "cluster_id": [1, 1],
                      "same_as": pa.array([None, None], pa.string()),
                      "genre": pa.array([None, None], pa.string()),
                      "movement": pa.array([None, None], pa.string()), "matched_by": ["", ""]})
    out, report = join_linked(table.to_pandas())
    assert out["cluster_id"].tolist() == [1, 1]
    assert out["genre"].isna().all() and out["movement"].isna().all()
    assert report.empty


def test_a_genre_filter_matches_whole_words_of_any_stated_genre():
    assert genre_matches("landscape art", ("landscape",))
    assert genre_matches("Landscapes", ("landscape",))
    assert genre_matches("marine art|portrait", ("portrait",))
    assert genre_matches("still life", ("still life",))
    assert not genre_matches("self-portraiture", ("portrait",))
    assert not genre_matches("portrait", ("still life", "landscape"))


def test_the_genre_rule_rejects_other_and_unknown_genres_only_when_asked():
    row = {"status": "stored", "license": "PD", "is_public_domain_flag": True,
           "artist_death_year": 1650, "date_start": 1640, "date_end": 1640,
           "object_type": "painting", "width": 800, "height": 600}
    everyone = FilterConfig()
    portraits = FilterConfig(genres=("portrait",))
    assert failed_rules({**row, "genre": None}, everyone)[0] == []
    assert failed_rules({**row, "genre": "portrait"}, portraits)[0] == []
    assert failed_rules({**row, "genre": "still life"}, portraits)[0] == ["genre:still life"]
    assert failed_rules({**row, "genre": None}, portraits)[0] == ["genre:unknown"]


def numbered(*rows: tuple) -> pd.DataFrame:
    """(key, cluster_id, same_as, accession_number) rows: records that carry a museum number."""
    frame = pd.DataFrame(rows, columns=["key", "cluster_id", "same_as", "accession_number"])
    return frame.assign(source=frame["key"].str.partition(":")[0], genre=None, movement=None,
                        matched_by="")


def test_an_inventory_number_link_names_the_record_that_carries_that_number():
    out, report = join_linked(numbered(
        ("cleveland:135382", 4, None, "1958.31"), ("cleveland:99", 7, None, "1958.3.1"),
        ("wikidata:Q1", 2, "cleveland:accession:1958.31", None)))
    assert out["cluster_id"].tolist() == [2, 7, 2]
    assert report[["linked_key", "resolved_key", "state"]].values.tolist() == [
        ["cleveland:accession:1958.31", "cleveland:135382", "merged"]]


def test_inventory_numbers_match_whatever_their_case_and_spaces_but_not_their_punctuation():
    links = links_of(numbered(
        ("smithsonian:a", 1, None, "XX 1929.6.75"), ("cleveland:b", 2, None, "1958.3.1"),
        ("wikidata:Q1", 3, "smithsonian:accession:xx1929.6.75|cleveland:accession:1958.31",
         None)))
    assert links["resolved"].tolist() == [True, False]
    assert links["resolved_key"].iloc[0] == "smithsonian:a"


def test_a_number_that_several_records_of_the_source_carry_links_to_none_of_them():
    out, report = join_linked(numbered(
        ("smithsonian:saam_1", 1, None, "1970.1"), ("smithsonian:npg_1", 2, None, "1970.1"),
        ("wikidata:Q1", 3, "smithsonian:accession:1970.1", None)))
    assert out["cluster_id"].tolist() == [1, 2, 3]
    assert report["state"].tolist() == ["ambiguous"]
    assert link_metrics(report)["ambiguous"] == 1


def test_a_number_of_another_source_or_of_no_record_is_unresolved():
    _, report = join_linked(numbered(
        ("met:1", 1, None, "1958.31"), ("wikidata:Q1", 3, "cleveland:accession:1958.31", None)))
    assert report["state"].tolist() == ["unresolved"]
