"""Evaluate the generator against held-out paintings, beside a floor and a baseline.

Run it as the DVC stage ``evaluate`` or by hand::

    python -m evaluate                      # params.yaml: sections evaluate and paths

It scores in the feature space of the encoder that the ``encoder`` stage
(:mod:`evaluate.train_encoder`) trains on the pack alone, so every experiment that changes only
training is scored in the same space (``dvc exp run -S train_gan...`` reruns ``train_gan`` and
``evaluate``, not ``encoder``).

What it compares, each against the held-out (validation) paintings of the pack:

- ``gan``: samples of the trained EMA generator (seeds 0..N-1, ``truncation``);
- ``markov``: the baseline, a Markov-chain pixel painter fitted on the same training shards:
  every metric has a floor to beat;
- ``real``: training paintings themselves, the real-vs-real floor: the best any generator can
  hope for with this many images.

Metrics per set: SWD on Laplacian-pyramid patches (per level and mean, x1e3), and in the
encoder's feature space FD, KID (mean, std), precision and recall; with
``inception_weights`` set to the published FID Inception file, FD and KID in that space too.
For the GAN: the novelty report (nearest training image by phash and by feature, the share of
samples closer to the training set than held-out paintings are) and a gallery of the closest
pairs. Lower SWD/FD/KID is better; higher precision/recall; a memorised share near the
``expected_share_if_novel`` is what a non-copying generator scores.

The upscaler (``upscaler``: the folder train_upscaler writes; skipped with a note when it does
not exist), on the first ``upscaler_images`` held-out paintings at native resolution:

- reconstruction: PSNR and SSIM (luma) of SR(box_down(y)) against y on central crops of at most
  256 px, beside bicubic and Lanczos upscaling of the same input (the baselines to beat);
- round trip: PSNR (dB, RGB) of box_down(SR(x)) against x, without and with the consistency
  projection, on those crops and on GAN samples (projected, it is exact: the cap of 100 dB);
- texture at print scale: GAN samples upscaled once (e.g. 32 -> 128 px), random 32 px crops of
  them, against as many crops of held-out paintings resized to the same scale: SWD for the
  upscaler, for Lanczos upscaling (the baseline), and for training paintings (the floor).

The prints (``prints``: the folder the ``render`` stage writes; skipped with a note when it
holds none): each print's pixel-lattice peak beside that of the same picture enlarged by
Lanczos, and a crop of each at 100 % beside Lanczos (evaluate/prints.py).

The report also charts the GAN's per-tick SWD during training, read from its dvclive folder
(``gan_live``), when that file exists.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from evaluate import encoder as encoder_lib
from evaluate import metrics, novelty
from evaluate.markov import MarkovPainter
from evaluate.prints import CROP_PX, prints_section
from evaluate.report import bar_chart, gan_training_swd, grid_png, write_report
from evaluate.sets import all_images, gan_samples, score
from evaluate.settings import SPEC
from evaluate.upscaler_scores import numbers_only, upscaler_section
from marcus.atomic import write_text
from marcus.config import check
from marcus.errors import UserError, reported
from marcus.params import load_params
from marcus.timings import write_timings
from train.data import PackedImages, read_summary


def evaluate(params: dict, paths: dict) -> dict:
    """Score per the ``evaluate`` section ``params`` and the ``paths`` section; write the
    report, plots and metrics; return the result."""
    check("evaluate", params, SPEC)
    started = time.perf_counter()
    seed, count = params["seed"], params["samples"]
    pack_dir, out_dir = Path(paths["pack"]), Path(paths["eval"])
    plots = Path(paths["eval_plots"])
    torch.set_num_threads(params["threads"] or torch.get_num_threads())
    train, heldout = PackedImages(pack_dir, "train"), PackedImages(pack_dir, "val")
    if len(heldout) < 2:
        raise UserError(f"evaluate: the pack has {len(heldout)} held-out images; raise "
                        "pack.val_fraction or curate more paintings")
    train_images, heldout_images = all_images(train), all_images(heldout)
    model = encoder_lib.load_encoder(paths["encoder"])

    def features(images):
        return encoder_lib.embed(model, images)

    train_features, heldout_features = features(train_images), features(heldout_images)
    rng = np.random.default_rng(seed)
    real_pick = rng.choice(len(train_images), size=min(count, len(train_images)), replace=False)
    sets = {
        "gan": gan_samples(Path(paths["gan"]), count, params["truncation"]),
        "markov": MarkovPainter.fit(train_images, seed=seed).sample(count, seed=seed),
        "real": train_images[np.sort(real_pick)],
    }
    result: dict = {"samples": count, "heldout_images": len(heldout_images),
                    "train_images": len(train_images),
                    "pack_fingerprint": read_summary(pack_dir).get("fingerprint"), "sets": {}}
    set_features = {}
    for name, images in sets.items():
        set_features[name] = features(images)
        result["sets"][name] = score(name, images, set_features[name], heldout_images,
                                     heldout_features, seed)

    inception_path = params["inception_weights"]
    if inception_path:
        from evaluate.inception import inception_features, load_inception
        net = load_inception(inception_path)
        real = inception_features(net, heldout_images)
        for name, images in sets.items():
            fake = inception_features(net, images)
            result["sets"][name]["inception"] = metrics.feature_metrics(
                real, fake, seed=seed, kid_subset_size=min(len(real), len(fake), 1000))

    report = novelty.novelty_report(
        set_features["gan"], train_features, heldout_features,
        novelty.phash_codes(sets["gan"]), novelty.phash_codes(train_images),
        novelty.phash_codes(heldout_images), percentile=params["novelty_percentile"])
    result["novelty"] = report.summary()
    pairs = report.closest_pairs(params["gallery_pairs"])
    novelty.write_gallery(plots / "nearest_pairs.png", sets["gan"], train_images, pairs)
    # A skipped section leaves no figure of an earlier run behind for `dvc plots show`.
    for stale in ("upscaled_samples.png", "chart_swd_over_training.png", "print_crops.png"):
        (plots / stale).unlink(missing_ok=True)
    result["upscaler"] = upscaler_section(Path(paths["upscaler"]), params["upscaler_images"],
                                          pack_dir, sets["gan"], seed, plots)
    result["prints"] = prints_section(Path(paths["prints"]), sets["gan"].shape[1],
                                      plots / "print_crops.png")
    result["gan_training_swd"], swd_chart = gan_training_swd(Path(paths["gan_live"]), plots)
    grid_png(sets["gan"][:32], 8, plots / "samples_gan.png")
    grid_png(sets["markov"][:32], 8, plots / "samples_markov.png")
    grid_png(heldout_images[:32], 8, plots / "heldout.png")
    for metric in ("fd", "kid", "precision", "recall"):
        bar_chart({n: s[metric] for n, s in result["sets"].items()}, metric.upper(),
                  plots / f"chart_{metric}.png")
    bar_chart({n: s["swd"]["swd_mean"] for n, s in result["sets"].items()}, "SWD (x1e3)",
              plots / "chart_swd.png")
    out_dir.mkdir(parents=True, exist_ok=True)
    result["timings"] = {"seconds": round(time.perf_counter() - started, 1),
                         "upscaler_seconds": result["upscaler"].pop("seconds", None)}
    figures = {"GAN samples": "samples_gan.png", "Markov baseline": "samples_markov.png",
               "Held-out paintings": "heldout.png", "Closest to training": "nearest_pairs.png",
               **{f"{m.upper()} by set": f"chart_{m}.png"
                  for m in ("swd", "fd", "kid", "precision", "recall")}}
    if swd_chart is not None:
        figures["SWD over training"] = swd_chart.name
    if "skipped" not in result["upscaler"]:
        figures[f"Upscaled GAN samples (x{result['upscaler']['factor']}): nearest, Lanczos, "
                "upscaler (projected)"] = "upscaled_samples.png"
    if (plots / "print_crops.png").exists():
        figures[f"Prints at 100 %: the central {CROP_PX} px of each print (left) beside the "
                "same picture enlarged by Lanczos (right)"] = "print_crops.png"
    write_report(out_dir / "report.html", result,
                 {title: plots / name for title, name in figures.items()})
    write_text(paths["eval_metrics"], json.dumps(flatten_for_dvc(result), indent=2) + "\n")
    return result


def flatten_for_dvc(result: dict) -> dict:
    """The metrics file `dvc exp show` reads: numbers nested by set, and the upscaler's
    numbers, or the one note saying why it was skipped."""
    keep = {k: v for k, v in result.items() if isinstance(v, (int, float))}
    keep["sets"] = result["sets"]
    keep["novelty"] = result["novelty"]
    upscaler = result.get("upscaler", {})
    keep["upscaler"] = ({"skipped": upscaler["skipped"]} if "skipped" in upscaler
                        else numbers_only(upscaler))
    prints = result.get("prints", {})
    keep["prints"] = ({"skipped": prints["skipped"]} if "skipped" in prints
                      else numbers_only(prints))
    return json.loads(json.dumps(keep, default=float))


@reported("evaluate")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--timings", help="write what the run took here (JSON)")
    args = parser.parse_args(argv)
    result = evaluate(load_params("evaluate", args.params), load_params("paths", args.params))
    write_timings(args.timings, result["timings"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
