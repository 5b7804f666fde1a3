"""One identity per painting across sources: ``same_as`` links as evidence beside the hashes.

A Wikidata item names the museums' own object ids of the painting it describes (the records'
``same_as``, e.g. ``met:436535|aic:27992``), or the inventory number a collection gives it where
the museum has no id property (``cleveland:accession:1958.31``: the record whose
``accession_number`` that is). Such a link says, without a pixel, that two records show one
painting. ``join_linked`` resolves the links to records, merges the near-duplicate clusters they
join, lets the members of one identity share what only some of them state (genre, movement),
and reports every link with what the hashes say of it:

- ``agree``: both images are stored and the hashes had already put them in one cluster;
- ``merged``: both stored, in different clusters: the link joined them (a detail, a heavy crop,
  another photograph of the work, or a wrong link): listed so that a person can look;
- ``unstored``: the linked record exists without a stored image (metadata only, rejected);
- ``unresolved``: no crawled record has that id (its source or that part of it not crawled);
- ``ambiguous``: an inventory number that several records of the source carry (two units of
  the Smithsonian may number objects alike): no record is chosen.

Links run both ways and through other records: A linked to B and B to C makes one identity.
"""

from __future__ import annotations

import pandas as pd

from crawl.records import ACCESSION_LINK

LINK_STATES = ("agree", "merged", "unstored", "unresolved", "ambiguous")
SHARED_COLUMNS = ("genre", "movement")  # stated by some members, true of the painting


def accession_fold(number: object) -> str | None:
    """An inventory number as compared: case and white space do not tell two objects apart
    (Wikidata and a museum's API write "1942. 3" and "1942.3"); punctuation does ("1958.31"
    and "1958.3.1" are two objects)."""
    if not isinstance(number, str):
        return None
    return "".join(number.split()).casefold() or None


def links_of(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (key, linked_key) the records state, with the record it names
    (``resolved_key``, None when no record or several do) and ``resolved``."""
    keys = set(records["key"])
    by_number: dict[tuple[str, str], list[str]] = {}
    if "accession_number" in records:
        for key, source, number in zip(records["key"], records["source"],
                                       records["accession_number"], strict=True):
            if (folded := accession_fold(number)) is not None:
                by_number.setdefault((source, folded), []).append(key)
    rows = []
    for key, same_as in zip(records["key"], records["same_as"], strict=True):
        if not isinstance(same_as, str):
            continue
        for link in dict.fromkeys(part.strip() for part in same_as.split("|")):
            source, sep, source_id = link.partition(":")
            if not (sep and source and source_id) or link == key:
                continue
            if source_id.startswith(ACCESSION_LINK):
                number = source_id[len(ACCESSION_LINK):]
                named = by_number.get((source, accession_fold(number)), [])
            else:
                named = [link] if link in keys else []
            named = [k for k in named if k != key]
            rows.append({"key": key, "linked_key": link,
                         "resolved_key": named[0] if len(named) == 1 else None,
                         "resolved": len(named) == 1, "ambiguous": len(named) > 1})
    return pd.DataFrame(rows, columns=["key", "linked_key", "resolved_key", "resolved",
                                       "ambiguous"])


def _groups(keys: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    """Key -> the smallest key of its connected group (union-find, path halving)."""
    parent = {k: k for k in keys}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {k: find(k) for k in keys}


def join_linked(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records with linked clusters merged and shared columns filled, the links report).

    ``records`` needs ``key``, ``same_as``, ``cluster_id`` (-1: no stored, hashed image),
    ``matched_by`` and the ``SHARED_COLUMNS``. A merged cluster takes the smallest id of those
    it joins; the members that moved get ``matched_by`` "same_as".
    """
    records = records.copy()
    links = links_of(records)
    resolved = links[links["resolved"].astype(bool)]
    cluster_of = dict(zip(records["key"], records["cluster_id"], strict=True))
    # Identity groups over records: a resolved link, or membership of one cluster.
    edges = list(zip(resolved["key"], resolved["resolved_key"], strict=True))
    first_in_cluster: dict[int, str] = {}
    for key, cluster in cluster_of.items():
        if cluster >= 0:
            edges.append((first_in_cluster.setdefault(cluster, key), key))
    group = _groups(list(records["key"]), edges)
    records["identity"] = records["key"].map(group)

    # Clusters joined by links: each takes the smallest cluster id in its identity.
    clustered = records[records["cluster_id"] >= 0]
    target = clustered.groupby("identity")["cluster_id"].min()
    moved = clustered["cluster_id"] != clustered["identity"].map(target)
    records.loc[clustered.index, "cluster_id"] = clustered["identity"].map(target)
    records.loc[moved[moved].index, "matched_by"] = "same_as"

    # What some members state is true of the painting: fill the others.
    for column in SHARED_COLUMNS:
        stated = records.dropna(subset=[column]).groupby("identity")[column].agg(
            lambda values: "|".join(sorted({v for text in values for v in text.split("|")})))
        missing = records[column].isna()
        if stated.empty:  # no record states it (a crawl of sources without the field)
            continue
        records.loc[missing, column] = records.loc[missing, "identity"].map(stated)

    report = links.assign(state=[_state(row, cluster_of) for row in links.itertuples()])
    return records, report.drop(columns="ambiguous")


def _state(link, cluster_of: dict) -> str:
    if link.ambiguous:
        return "ambiguous"
    if not link.resolved:
        return "unresolved"
    a, b = cluster_of[link.key], cluster_of[link.resolved_key]
    if a < 0 or b < 0:
        return "unstored"
    return "agree" if a == b else "merged"


def link_metrics(report: pd.DataFrame) -> dict:
    counts = report["state"].value_counts().to_dict() if len(report) else {}
    return {"links": len(report), **{state: int(counts.get(state, 0)) for state in LINK_STATES}}
