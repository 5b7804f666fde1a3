"""style/stage.py, the `stylize` stage: a demo photograph in the manner of curated paintings
chosen by a query, printed with its dpi, a card with the paintings' licence evidence, metrics
for `dvc exp show`, the same bytes twice."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from marcus.model_files import save_model_file
from style.stage import main
from tests.style.test_collection import collection  # noqa: F401 (a fixture)
from train.upscaler import UPSCALER, CompactSR

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _params(tmp_path: Path, curated: Path, crawl: Path, out: str) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["paths"] = {name: str(tmp_path / out / name) for name in params["paths"]}
    params["paths"].update(curate=str(curated.parent), crawl=str(crawl),
                           upscaler=str(tmp_path / "upscaler"))
    section = params["stylize"]
    section.update(photograph_px=[64, 48], inches=1, dpi=100,
                   style_query="artist == 'Vincent van Gogh'", style_limit=2)
    section["transfer"].update(min_px=32, max_px=48, steps_per_scale=[4])
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_the_stage_prints_its_transfer_with_card_and_metrics_the_same_twice(tmp_path,
                                                                          collection):  # noqa: F811
    curated, crawl = collection
    (tmp_path / "upscaler").mkdir()
    model = CompactSR(factor=2, channels=4, body_convs=1)
    save_model_file(tmp_path / "upscaler" / "upscaler.pt", UPSCALER, model, model.init_kwargs)
    outputs = []
    for out in ("a", "b"):
        assert main(["--params", str(_params(tmp_path, curated, crawl, out))]) == 0
        outputs.append(tmp_path / out)
    a, b = outputs
    printed = (a / "stylized" / "stylized.png").read_bytes()
    assert printed == (b / "stylized" / "stylized.png").read_bytes()
    with Image.open(a / "stylized" / "stylized.png") as image:
        assert image.size == (100, 75) and round(image.info["dpi"][0]) == 100
    card = json.loads((a / "stylized" / "card.json").read_text())
    assert [s["key"] for s in card["styles"]] == ["met:1", "met:3"]
    assert all(s["license"] == "CC0" and s["licence_rule"] for s in card["styles"])
    assert card["content"]["demo_photograph"] == {"seed": 0, "px": [64, 48]}
    assert card["network"]["layout"] == "hed" and card["dpi"] == 100
    metrics = json.loads((a / "stylize_metrics").read_text())
    assert metrics == json.loads((b / "stylize_metrics").read_text())
    assert metrics["print_px"] == [75, 100] and metrics["optimised_px"] == [36, 48]
    assert {"swd_to_style", "swd_content_to_style", "ssim_y_quarter"} <= set(metrics)
    assert sorted(p.name for p in (a / "stylize_run").iterdir()) == ["scale00_32px.pt",
                                                                     "scale01_45px.pt",
                                                                     "scale02_48px.pt"]
    # Rerun over the kept scales (as after a kill at the very end): the same bytes, card and
    # metrics included (each scale's losses are kept with it).
    before = {p: p.read_bytes() for p in (a / "stylized").iterdir()}
    before[a / "stylize_metrics"] = (a / "stylize_metrics").read_bytes()
    assert main(["--params", str(tmp_path / "a.yaml")]) == 0
    assert {p: p.read_bytes() for p in before} == before


def test_a_bad_transfer_setting_stops_the_stage_before_any_work(tmp_path, capsys):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    broken = copy.deepcopy(params)
    broken["stylize"]["transfer"]["style_loss"] = "cosine"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(broken, sort_keys=False))
    assert main(["--params", str(path)]) == 2
    assert "stylize.transfer.style_loss must be one of" in capsys.readouterr().err
