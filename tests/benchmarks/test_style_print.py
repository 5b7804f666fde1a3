"""benchmarks/style_print.py: a part rerun alone replaces that part of the committed results
and keeps the others."""

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
