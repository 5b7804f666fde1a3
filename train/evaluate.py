"""Evaluate the generator against held-out paintings, beside a floor and a baseline.

Two DVC stages run this file::

    python -m train.evaluate encoder   # stage `encoder`: the feature space, trained on the pack
    python -m train.evaluate run       # stage `evaluate`: metrics/eval.json, plots, report

Both read the ``evaluate`` section of params.yaml. The encoder depends on the pack alone, so
every experiment that changes only training is scored in the same feature space
(``dvc exp run -S train_gan...`` reruns ``train_gan`` and ``evaluate``, not ``encoder``).

What ``run`` compares, each against the held-out (validation) paintings of the pack:

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
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from marcus.atomic import atomic_path, write_text
from marcus.params import load_params
from train import encoder as encoder_lib
from train import metrics, novelty
from train.markov import MarkovPainter
from train.pack import PackedImages, read_summary


def all_images(data: PackedImages) -> np.ndarray:
    return np.asarray(data.batch(np.arange(len(data))))


def labels_for_encoder(data: PackedImages) -> dict[str, np.ndarray]:
    return {name: data.labels[name].to_numpy() for name in ("period_id", "object_type_id")
            if name in data.labels}


# ----------------------------------------------------------------------------------------------
# Stage `encoder`


def train_feature_encoder(params: dict) -> dict:
    pack_dir = Path(params["pack"])
    train = PackedImages(pack_dir, "train")
    started = time.perf_counter()
    torch.set_num_threads(int(params.get("threads") or torch.get_num_threads()))
    model, log = encoder_lib.train_encoder(all_images(train), labels_for_encoder(train),
                                           seed=params["seed"], steps=params["encoder_steps"],
                                           input_px=params["encoder_input_px"])
    encoder_lib.save_encoder(model, params["encoder"])
    summary = {"images": len(train), "steps": params["encoder_steps"],
               "seconds": round(time.perf_counter() - started, 1),
               "final": {k: round(float(v), 4) for k, v in log[-1].items()
                         if isinstance(v, (int, float))} if log else {}}
    print(f"encoder: {summary}")
    return summary


# ----------------------------------------------------------------------------------------------
# Stage `evaluate`


@torch.no_grad()
def gan_samples(model_dir: Path, count: int, truncation: float, batch: int = 64) -> np.ndarray:
    """uint8 NHWC samples for seeds 0..count-1 (seed i paints sample i, whatever the batch)."""
    from train.generate import latent, load_generator
    G = load_generator(model_dir)
    out = []
    for start in range(0, count, batch):
        z = torch.cat([latent(G, s) for s in range(start, min(start + batch, count))])
        ws = G.mapping(z, None, truncation_psi=truncation)
        out.append(metrics.to_uint8_nhwc(G.synthesis(ws, noise_mode="const")))
    return np.concatenate(out)


def score(name: str, images: np.ndarray, features: np.ndarray, real_images: np.ndarray,
          real_features: np.ndarray, seed: int) -> dict:
    kid_size = min(len(features), len(real_features), 1000)
    result = {"swd": metrics.swd(real_images, images, seed=seed)}
    result.update(metrics.feature_metrics(real_features, features, seed=seed,
                                          kid_subset_size=kid_size))
    print(f"evaluate: {name}: " + ", ".join(f"{k} {v if isinstance(v, dict) else round(v, 4)}"
                                             for k, v in result.items() if k != "swd")
          + f", swd {result['swd']['swd_mean']:.3f}")
    return result


def grid_png(images: np.ndarray, columns: int, path: Path, scale: int = 2) -> None:
    n, h, w, _ = images.shape
    rows = -(-n // columns)
    canvas = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    picture = Image.fromarray(canvas).resize((columns * w * scale, rows * h * scale),
                                             Image.Resampling.NEAREST)
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")


def bar_chart(values: dict[str, float], title: str, path: Path) -> None:
    """A small static bar chart (Pillow only: the report must read offline, no scripts)."""
    width, bar_h, pad = 480, 26, 10
    img = Image.new("RGB", (width, pad * 3 + 16 + bar_h * len(values)), "white")
    draw = ImageDraw.Draw(img)
    draw.text((pad, pad), title, fill="black")
    top = max(max(values.values(), default=0.0), 1e-12)
    for i, (label, value) in enumerate(values.items()):
        y = pad * 2 + 16 + i * bar_h
        length = int((width - 200) * max(value, 0.0) / top)
        draw.rectangle([110, y, 110 + length, y + bar_h - 8], fill=(70, 110, 160))
        draw.text((pad, y + 2), label, fill="black")
        draw.text((115 + length, y + 2), f"{value:.4g}", fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def write_report(path: Path, result: dict, images: dict[str, Path]) -> None:
    """One self-contained HTML file: tables, and the PNGs inlined as data: URIs, so it reads
    offline, from anywhere it is copied to, with nothing fetched."""
    rows = []
    for name in ("gan", "markov", "real"):
        if name not in result["sets"]:
            continue
        s = result["sets"][name]
        rows.append(f"<tr><td>{name}</td><td>{s['swd']['swd_mean']:.3f}</td><td>{s['fd']:.4f}</td>"
                    f"<td>{s['kid']:.5f}</td><td>{s['precision']:.3f}</td>"
                    f"<td>{s['recall']:.3f}</td></tr>")
    figures = "\n".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}"'
        f' alt="{html.escape(title)}"><figcaption>{html.escape(title)}</figcaption></figure>'
        for title, png in images.items())
    novel = result.get("novelty", {})
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Marcus evaluation</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #aaa;padding:.3em .6em}}
figure{{display:inline-block;margin:1em}}img{{image-rendering:pixelated}}</style></head>
<body><h1>Marcus evaluation</h1>
<p>Against {result['heldout_images']} held-out paintings; {result['samples']} samples per set.
Lower SWD, FD and KID are better; higher precision and recall. <em>real</em> is the floor
(training paintings against held-out ones), <em>markov</em> the baseline.</p>
<table id="metrics"><tr><th>set</th><th>SWD (x1e3)</th><th>FD</th><th>KID</th>
<th>precision</th><th>recall</th></tr>
{chr(10).join(rows)}
</table>
<p id="novelty">Memorised share (feature space): {novel.get('memorised_share', 'n/a')}
(a novel generator scores about {novel.get('expected_share_if_novel', 'n/a')}).</p>
{figures}
</body></html>
"""
    write_text(path, page)


def evaluate(params: dict) -> dict:
    started = time.perf_counter()
    seed, count = params["seed"], params["samples"]
    pack_dir, out_dir, plots = Path(params["pack"]), Path(params["out"]), Path(params["plots"])
    torch.set_num_threads(int(params.get("threads") or torch.get_num_threads()))
    train, heldout = PackedImages(pack_dir, "train"), PackedImages(pack_dir, "val")
    if len(heldout) < 2:
        raise SystemExit(f"evaluate: the pack has {len(heldout)} held-out images; raise "
                         "pack.val_fraction or curate more paintings")
    train_images, heldout_images = all_images(train), all_images(heldout)
    model = encoder_lib.load_encoder(params["encoder"])

    def features(images):
        return encoder_lib.embed(model, images)

    train_features, heldout_features = features(train_images), features(heldout_images)
    rng = np.random.default_rng(seed)
    real_pick = rng.choice(len(train_images), size=min(count, len(train_images)), replace=False)
    sets = {
        "gan": gan_samples(Path(params["gan"]), count, params["truncation"]),
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

    inception_path = params.get("inception_weights")
    if inception_path:
        from train.inception import inception_features, load_inception
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
    grid_png(sets["gan"][:32], 8, plots / "samples_gan.png")
    grid_png(sets["markov"][:32], 8, plots / "samples_markov.png")
    grid_png(heldout_images[:32], 8, plots / "heldout.png")
    for metric in ("fd", "kid", "precision", "recall"):
        bar_chart({n: s[metric] for n, s in result["sets"].items()}, metric.upper(),
                  plots / f"chart_{metric}.png")
    bar_chart({n: s["swd"]["swd_mean"] for n, s in result["sets"].items()}, "SWD (x1e3)",
              plots / "chart_swd.png")
    out_dir.mkdir(parents=True, exist_ok=True)
    result["seconds"] = round(time.perf_counter() - started, 1)
    figures = {"GAN samples": "samples_gan.png", "Markov baseline": "samples_markov.png",
               "Held-out paintings": "heldout.png", "Closest to training": "nearest_pairs.png",
               **{f"{m.upper()} by set": f"chart_{m}.png"
                  for m in ("swd", "fd", "kid", "precision", "recall")}}
    write_report(out_dir / "report.html", result,
                 {title: plots / name for title, name in figures.items()})
    write_text(params["metrics"], json.dumps(flatten_for_dvc(result), indent=2) + "\n")
    return result


def flatten_for_dvc(result: dict) -> dict:
    """The metrics file `dvc exp show` reads: numbers only, nested by set."""
    keep = {k: v for k, v in result.items() if isinstance(v, (int, float))}
    keep["sets"] = result["sets"]
    keep["novelty"] = result["novelty"]
    return json.loads(json.dumps(keep, default=float))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["encoder", "run"])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params("evaluate", args.params)
    if args.command == "encoder":
        train_feature_encoder(params)
    else:
        evaluate(params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
