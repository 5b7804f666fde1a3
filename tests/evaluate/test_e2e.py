"""The evaluate stage on a tiny real pipeline, and its report read by a real headless browser.

    PYTHONPATH=. python -m pytest -q tests/evaluate/test_e2e.py

The module builds one small project with the real command lines: 24 synthetic paintings, a
16 px pack, the GAN and the upscaler trained with their `tiny` presets, a 4-step encoder; then
runs ``evaluate()`` on it. What is checked: the upscaler section (finite numbers, an exact
projected round trip), the sections' notes when there is no upscaler or GAN run, and the
report as Chromium sees it after load: every image decoded, nothing that would be fetched from
anywhere, the key numbers in the text.

The browser is Debian's ``chromium`` (``apt-get install chromium``), run with
``--dump-dom`` on a copy of the report into which the test injects one script that writes
what it finds into a ``<pre>``. Without a browser those tests skip; with
``MARCUS_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets) they fail instead. The browser is kept on
loopback: host names resolve to nothing and every request goes to a closed loopback proxy.
"""

from __future__ import annotations

import copy
import html
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from evaluate.stage import evaluate
from tests.projects import PARAMS, make_curated, run_py

pytestmark = pytest.mark.e2e

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


# ----------------------------------------------------------------------------------------------
# The tiny project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict]:
    """(root, params) of a tiny project whose pack, GAN, upscaler and encoder are built."""
    root = tmp_path_factory.mktemp("evaluate")
    make_curated(root)
    params = copy.deepcopy({k: PARAMS[k] for k in ("paths", "pack", "train_gan",
                                                    "train_upscaler", "render", "evaluate")})
    params["paths"].update(
        curate=str(root), crawl=str(root / "crawl"), pack=str(root / "pack"),
        train_gan=str(root / "gan_run"), gan=str(root / "gan"), gan_live=str(root / "gan_live"),
        train_upscaler=str(root / "up_run"), upscaler=str(root / "upscaler"),
        upscaler_live=str(root / "up_live"), encoder=str(root / "encoder"),
        eval=str(root / "eval"), eval_plots=str(root / "plots"),
        eval_metrics=str(root / "metrics" / "eval.json"), prints=str(root / "prints"))
    params["pack"].update(resolution=16, workers=1, val_fraction=0.2)
    params["render"].update(inches=2.0, dpi=300.0, threads=1)    # 600 px prints
    params["train_gan"].update(preset="tiny", device="cpu", threads=1)
    params["train_upscaler"].update(preset="tiny", device="cpu", threads=1)
    params["evaluate"].update(encoder_steps=4, samples=16, gallery_pairs=2, threads=1,
                              upscaler_images=16)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (["-m", "train.pack"], ["-m", "train.train_gan"],
                    ["-m", "train.train_upscaler"], ["-m", "train.render"],
                    ["-m", "evaluate.train_encoder"]):
        done = run_py([*command, "--params", "params.yaml"], root)
        assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-4000:]}"
    return root, params


def run_evaluate(params: dict, paths: dict) -> dict:
    """``evaluate()`` in this process, leaving torch's thread count as it found it."""
    threads = torch.get_num_threads()
    try:
        return evaluate(params, paths)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def evaluated(project) -> tuple[Path, dict]:
    root, params = project
    return root, run_evaluate(params["evaluate"], params["paths"])


def numeric_leaves(tree: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out |= numeric_leaves(v, f"{prefix}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[prefix + k] = v
    return out


def test_upscaler_section_is_finite_and_the_projected_round_trip_exact(evaluated):
    root, result = evaluated
    section = result["upscaler"]
    assert "skipped" not in section, section
    assert section["factor"] == 4
    val_natives = json.loads((root / "pack" / "pack.json").read_text())["counts"]["val"]
    assert section["heldout_images"] == val_natives >= 2
    assert set(section["reconstruction"]) == {"sr", "sr_projected", "bicubic", "lanczos"}
    swd = section["print_scale"]["swd_mean"]
    assert set(swd) == {"sr_projected", "lanczos", "real_floor"}
    assert section["print_scale"]["images_per_set"] == val_natives
    card = json.loads((root / "upscaler" / "card.json").read_text())
    assert section["chain"] == card["metrics"]["chain"]       # the chain render took, and why
    assert set(section["chain"]["scores"]) == {"lanczos", "sr_lanczos", "sr_sr"}

    numbers = numeric_leaves(section)
    assert len(numbers) >= 20
    assert all(math.isfinite(v) for v in numbers.values()), numbers
    assert all(v > 0 for k, v in numbers.items() if k.startswith("print_scale.swd_mean."))
    assert all(0 < v <= 1 for k, v in numbers.items() if k.endswith("ssim_y"))
    for split in ("heldout", "gan"):
        trip = section["round_trip_db"][split]
        assert trip["sr_projected"] >= 45, trip
        # The projection is what makes it exact: the network alone is measurably off.
        assert trip["sr"] < trip["sr_projected"], trip

    # metrics/eval.json carries the same numbers (`dvc exp show` reads them there).
    saved = json.loads((root / "metrics" / "eval.json").read_text())
    assert numeric_leaves(saved["upscaler"]) == numbers


def test_the_prints_lattice_is_scored_beside_lanczos_and_shown_at_100_percent(evaluated):
    root, result = evaluated
    section = result["prints"]
    assert sorted(section["prints"]) == ["seed0000", "seed0001"] and section["source_px"] == 16
    for scores in section["prints"].values():
        assert scores["width"] == 600
        assert abs(scores["excess_db"] - (scores["db"] - scores["lanczos_db"])) <= 0.011
    saved = json.loads((root / "metrics" / "eval.json").read_text())["prints"]
    assert saved["max_excess_db"] == section["max_excess_db"]
    assert saved["prints"]["seed0001"]["lanczos_db"] == section["prints"]["seed0001"]["lanczos_db"]
    page = (root / "eval" / "report.html").read_text()
    assert 'id="prints"' in page and "Prints at 100 %" in page
    assert (root / "plots" / "print_crops.png").is_file()


def test_swd_over_training_is_read_from_the_gan_run(evaluated):
    root, result = evaluated
    tsv = root / "gan_live" / "plots" / "metrics" / "metric" / "swd.tsv"
    header, *rows = tsv.read_text().splitlines()
    values = [float(row.split("\t")[header.split("\t").index("swd")]) for row in rows]
    training = result["gan_training_swd"]
    assert training["ticks"] == len(values) == 4
    assert training["first"] == pytest.approx(values[0], abs=1e-4)
    assert training["best"] == pytest.approx(min(values), abs=1e-4)
    assert (root / "plots" / "chart_swd_over_training.png").stat().st_size > 0


def test_without_an_upscaler_or_a_gan_run_the_sections_say_skipped(project, tmp_path):
    """paths.upscaler and paths.gan_live naming nothing (no upscaler trained, the GAN's
    dvclive folder gone): the stage runs and says what it skipped."""
    _root, params = project
    paths = dict(params["paths"], upscaler=str(tmp_path / "no_upscaler"),
                 gan_live=str(tmp_path / "no_live"), prints=str(tmp_path / "no_prints"),
                 eval=str(tmp_path / "eval"),
                 eval_plots=str(tmp_path / "plots"), eval_metrics=str(tmp_path / "eval.json"))
    result = run_evaluate(params["evaluate"], paths)
    assert set(result["upscaler"]) == {"skipped"}
    assert "no_upscaler" in result["upscaler"]["skipped"]
    assert "no_live" in result["gan_training_swd"]["skipped"]
    assert "no_prints" in result["prints"]["skipped"]
    assert json.loads((tmp_path / "eval.json").read_text())["upscaler"] == result["upscaler"]
    page = (tmp_path / "eval" / "report.html").read_text()
    assert f"Upscaler: skipped (no {tmp_path / 'no_upscaler'}" in page
    assert not (tmp_path / "plots" / "upscaled_samples.png").exists()
    assert not (tmp_path / "plots" / "chart_swd_over_training.png").exists()
    assert not (tmp_path / "plots" / "print_crops.png").exists()


# ----------------------------------------------------------------------------------------------
# The report in a headless browser

# Runs after load, in the page: what the browser made of it, into <pre id="browser-check">.
PROBE = """<script>
window.addEventListener("load", () => {
  const urls = [];
  for (const el of document.querySelectorAll("*")) {
    for (const name of ["src", "href", "srcset", "poster", "data", "action", "background"]) {
      const value = el.getAttribute(name);
      if (value !== null) urls.push(value);
    }
    const style = el.getAttribute("style");
    if (style && style.includes("url(")) urls.push(style);
  }
  for (const sheet of document.styleSheets)
    for (const rule of sheet.cssRules)
      if (rule.cssText.includes("url(")) urls.push(rule.cssText);
  const found = {
    images: [...document.images].map(img => ({alt: img.alt, complete: img.complete,
                                              width: img.naturalWidth})),
    urls: urls,
    requests: performance.getEntriesByType("resource").map(entry => entry.name),
    scripts: document.scripts.length,
    text: document.body.innerText,
  };
  const pre = document.createElement("pre");
  pre.id = "browser-check";
  pre.textContent = JSON.stringify(found);
  document.body.appendChild(pre);
});
</script>
"""

def find_browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    reason = "no headless Chromium found (apt-get install chromium)"
    if os.environ.get("MARCUS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and MARCUS_REQUIRE_BROWSER=1 requires one")
    pytest.skip(reason)


def browse(page: Path, workdir: Path) -> dict:
    """What the browser found in ``page`` after load: a copy of it with PROBE injected,
    opened headless; its serialised DOM carries the findings."""
    browser = find_browser()
    probed = workdir / f"probed-{page.name}"
    source = page.read_text(encoding="utf-8")
    assert source.count("</body>") == 1
    probed.write_text(source.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [browser, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run",
         "--disable-extensions", "--disable-background-networking", "--disable-sync",
         "--disable-component-update", "--disable-dev-shm-usage",
         f"--user-data-dir={workdir / 'browser-profile'}",
         # Loopback only: no name resolves, and any request goes to a closed local port.
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>",
         "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=90, env={**os.environ, "HOME": str(workdir)})
    match = re.search(r'<pre id="browser-check">(.*?)</pre>', done.stdout, re.S)
    assert match, (f"the probe did not run (exit {done.returncode}):\n{done.stdout[-2000:]}\n"
                   f"{done.stderr[-3000:]}")
    return json.loads(html.unescape(match.group(1)))


def external(found: dict) -> list[str]:
    """Everything in the page that a browser would fetch: any URL but data: and #anchors."""
    return ([u for u in found["urls"] if not u.startswith(("data:", "#"))]
            + [r for r in found["requests"] if not r.startswith("data:")])


def test_the_probe_sees_a_broken_image_and_an_external_url(tmp_path):
    """The check below can fail: a page with both faults is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><html><body><p>x</p>'
                    '<img alt="truncated" src="data:image/png;base64,iVBORw0KGgo=">'
                    '<img alt="remote" src="https://example.invalid/a.png"></body></html>')
    found = browse(page, tmp_path)
    assert [img["width"] for img in found["images"]] == [0, 0]
    assert "https://example.invalid/a.png" in external(found)


def test_report_reads_offline_in_a_browser(evaluated, tmp_path):
    root, result = evaluated
    found = browse(root / "eval" / "report.html", tmp_path)

    alts = [img["alt"] for img in found["images"]]
    # 9 before the upscaler, then its samples and the prints at 100 %
    assert len(alts) == 12 and "SWD over training" in alts, alts
    assert any(alt.startswith("Upscaled GAN samples") for alt in alts), alts
    assert any(alt.startswith("Prints at 100 %") for alt in alts), alts
    broken = [img for img in found["images"] if not (img["complete"] and img["width"] > 0)]
    assert not broken, broken
    assert external(found) == []
    assert found["scripts"] == 1  # the probe: the report itself runs nothing

    text = found["text"]
    expected = [f"{s['swd']['swd_mean']:.3f}" for s in result["sets"].values()]
    upscaler = result["upscaler"]
    expected += [f"{v['psnr_y']:.2f}" for v in upscaler["reconstruction"].values()]
    expected += [f"{v['ssim_y']:.4f}" for v in upscaler["reconstruction"].values()]
    expected += [f"{v:.2f}" for trip in upscaler["round_trip_db"].values()
                 for v in trip.values()]
    expected += [f"{v:.3f}" for v in upscaler["print_scale"]["swd_mean"].values()]
    expected.append(f"best {result['gan_training_swd']['best']:.3f}")
    missing = [number for number in expected if number not in text]
    assert not missing, f"not in the report's text: {missing}"
