"""benchmarks/style_print.py: a part rerun alone replaces that part of the committed results
and keeps the others; a parity variant rerun alone keeps the other variants measured against
the same plain run."""

from __future__ import annotations

import json

import pytest

from benchmarks import style_print


@pytest.mark.slow
def test_a_part_rerun_alone_is_merged_into_the_committed_results(tmp_path, monkeypatch):
    monkeypatch.setattr(style_print, "RESULTS", tmp_path)
    committed = {"parity": {"share": 0.9}, "tiling": {"max_rel_diff": 1.0},
                 "_machine": {"when": "earlier"}}
    (tmp_path / "style_print-quick.json").write_text(json.dumps(committed))
    result = style_print.run(quick=True, parts=("tiling",))
    assert result["parity"] == {"share": 0.9}                  # kept as committed
    assert result["tiling"]["max_rel_diff"] < 1e-4             # measured again
    assert list(result["parts_run"]) == ["tiling"] and "_machine" not in result


def test_a_part_that_cannot_run_here_keeps_its_committed_measurement(tmp_path, monkeypatch):
    monkeypatch.setattr(style_print, "RESULTS", tmp_path)
    monkeypatch.setattr(style_print, "UPSCALER", tmp_path / "no-upscaler")
    committed = {"print": {"20in": {"wall_s": 261.4}}, "parts_run": {"print": "earlier"}}
    (tmp_path / "style_print-quick.json").write_text(json.dumps(committed))
    result = style_print.run(quick=True, parts=("print",))
    assert result["print"] == committed["print"]
    assert result["parts_run"] == {"print": "earlier"}


def test_an_unknown_part_is_refused_before_any_work():
    with pytest.raises(SystemExit, match="no part nets .*parts: networks, tiling"):
        style_print.run(quick=True, parts=("nets",))


@pytest.mark.slow
def test_a_parity_variant_rerun_alone_keeps_the_others_only_where_the_plain_run_is_theirs(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(style_print, "RESULTS", tmp_path)
    committed = tmp_path / "style_print-quick.json"
    first = style_print.run(quick=True, parts=("parity",), variants=("pyramid",))
    assert list(first["parity"]["variants"]) == ["pyramid"]
    committed.write_text(json.dumps(first))

    second = style_print.run(quick=True, parts=("parity",), variants=("matched_pyramid",))
    assert second["parity"]["plain_loss"] == first["parity"]["plain_loss"]
    assert second["parity"]["variants"]["pyramid"] == first["parity"]["variants"]["pyramid"]
    assert list(second["parity"]["variants"]) == ["pyramid", "matched_pyramid"]

    first["parity"]["plain_loss"] += 1e-6   # another target: the kept counts would mislead
    committed.write_text(json.dumps(first))
    third = style_print.run(quick=True, parts=("parity",), variants=("matched_pyramid",))
    assert list(third["parity"]["variants"]) == ["matched_pyramid"]
    said = capsys.readouterr().out
    assert "variants (pyramid) dropped" in said
    assert f"plain_loss {third['parity']['plain_loss']!r} against " \
           f"{first['parity']['plain_loss']!r}" in said   # by how much, for the reader


def test_a_parity_variant_is_refused_before_any_work_when_unknown_or_without_its_part():
    with pytest.raises(SystemExit, match="no parity variant plain .*variants: coarse_to_fine"):
        style_print.run(quick=True, parts=("parity",), variants=("plain",))
    with pytest.raises(SystemExit, match="variants are the parity part's"):
        style_print.run(quick=True, parts=("tiling",), variants=("pyramid",))
