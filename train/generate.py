"""Paint with a trained generator: images from seeds, style mixing, latent interpolation.

    python -m train.generate --seeds 0-7 --truncation 0.7 --out out/samples
    python -m train.generate --mix 1,2,3 10,11 --mix-layers 0-3 --out out/mixing
    python -m train.generate --interpolate 5 9 --frames 8 --out out/lerp

The model defaults to ``train_gan.model`` of params.yaml (``data/models/gan.pt``). Every image
comes from a seed, so a file name such as ``seed0007.png`` says how to paint it again. The style
knobs:

- ``--truncation`` psi in [0, 1]: pulls each latent w towards the average w; lower is more
  typical and less varied (1 = off).
- ``--mix ROWS COLS``: a grid whose cell (r, c) takes the coarse styles (the layers named by
  ``--mix-layers``, i.e. composition and pose) from column seed c and the rest (colour,
  brushwork) from row seed r. Row 0 and column 0 show the seeds alone.
- ``--interpolate A B``: ``--frames`` images on the straight line from w(A) to w(B).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image

from marcus import model_files
from marcus.atomic import atomic_path
from marcus.errors import UserError, reported
from marcus.params import load_params
from train.networks import GENERATOR, Generator


def load_generator(path: str | Path, device: torch.device = torch.device("cpu")) -> Generator:
    """The EMA generator saved by train_gan: its model folder (``generator.pt`` inside), the
    file itself, or a training checkpoint."""
    return model_files.load_model(path, GENERATOR, device)


def parse_seeds(text: str) -> list[int]:
    """"1,3,5-8" -> [1, 3, 5, 6, 7, 8]."""
    seeds: list[int] = []
    for part in text.split(","):
        if "-" in part.strip()[1:]:
            start, end = part.split("-", 1)
            seeds.extend(range(int(start), int(end) + 1))
        elif part.strip():
            seeds.append(int(part))
    if not seeds:
        raise UserError(f"no seeds in {text!r}")
    return seeds


def latent(G: Generator, seed: int) -> torch.Tensor:
    return torch.randn([1, G.z_dim], generator=torch.Generator().manual_seed(seed))


def to_pil(image: torch.Tensor) -> Image.Image:
    """[3, H, W] in [-1, 1] -> RGB image."""
    x = ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    return Image.fromarray(x.permute(1, 2, 0).numpy())


def save_png(image: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def grid(images: list[Image.Image], columns: int) -> Image.Image:
    w, h = images[0].size
    rows = (len(images) + columns - 1) // columns
    canvas = Image.new("RGB", (columns * w, rows * h), "white")
    for i, img in enumerate(images):
        canvas.paste(img, ((i % columns) * w, (i // columns) * h))
    return canvas


@torch.no_grad()
def paint_seeds(G: Generator, seeds: list[int], psi: float, noise_mode: str = "const"
                ) -> list[Image.Image]:
    out = []
    for seed in seeds:
        ws = G.mapping(latent(G, seed), None, truncation_psi=psi)
        out.append(to_pil(G.synthesis(ws, noise_mode=noise_mode)[0]))
    return out


@torch.no_grad()
def style_mixing_grid(G: Generator, row_seeds: list[int], col_seeds: list[int],
                      layers: list[int], psi: float) -> Image.Image:
    bad = [i for i in layers if not 0 <= i < G.num_ws]
    if bad:
        raise UserError(f"--mix-layers {bad} out of range: this generator has "
                        f"{G.num_ws} style layers (0-{G.num_ws - 1})")
    w = {s: G.mapping(latent(G, s), None, truncation_psi=psi) for s in row_seeds + col_seeds}
    blank = Image.new("RGB", (G.img_resolution, G.img_resolution), "white")
    cells = [blank] + [to_pil(G.synthesis(w[c], noise_mode="const")[0]) for c in col_seeds]
    for r in row_seeds:
        cells.append(to_pil(G.synthesis(w[r], noise_mode="const")[0]))
        for c in col_seeds:
            mixed = w[r].clone()
            mixed[:, layers] = w[c][:, layers]
            cells.append(to_pil(G.synthesis(mixed, noise_mode="const")[0]))
    return grid(cells, columns=len(col_seeds) + 1)


@torch.no_grad()
def interpolation(G: Generator, seed_a: int, seed_b: int, frames: int, psi: float
                  ) -> list[Image.Image]:
    """Straight line in w space, where the generator's styles live (z is Gaussian: a straight
    line there passes through unlikely latents)."""
    wa = G.mapping(latent(G, seed_a), None, truncation_psi=psi)
    wb = G.mapping(latent(G, seed_b), None, truncation_psi=psi)
    return [to_pil(G.synthesis(torch.lerp(wa, wb, t / max(frames - 1, 1)),
                               noise_mode="const")[0]) for t in range(frames)]


@reported("generate")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="generator file or folder (default: paths.gan)")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    parser.add_argument("--seeds", default="0-7", help="e.g. 0-7 or 1,5,9")
    parser.add_argument("--truncation", type=float, default=1.0, help="psi in [0, 1]")
    parser.add_argument("--noise", choices=["const", "random", "none"], default="const")
    parser.add_argument("--mix", nargs=2, metavar=("ROW_SEEDS", "COL_SEEDS"))
    parser.add_argument("--mix-layers", default="0-3", help="style layers taken from columns")
    parser.add_argument("--interpolate", nargs=2, type=int, metavar=("SEED_A", "SEED_B"))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    if not 0.0 <= args.truncation <= 1.0:
        raise UserError("--truncation must be in [0, 1]")
    model = args.model or load_params("paths", args.params)["gan"]
    G = load_generator(model)
    out = Path(args.out)
    if args.mix:
        image = style_mixing_grid(G, parse_seeds(args.mix[0]), parse_seeds(args.mix[1]),
                                  parse_seeds(args.mix_layers), args.truncation)
        save_png(image, out / "style_mixing.png")
    elif args.interpolate:
        frames = interpolation(G, *args.interpolate, max(2, args.frames), args.truncation)
        for i, img in enumerate(frames):
            save_png(img, out / f"lerp{i:03d}.png")
        save_png(grid(frames, columns=len(frames)), out / "interpolation.png")
    else:
        seeds = parse_seeds(args.seeds)
        for seed, img in zip(seeds, paint_seeds(G, seeds, args.truncation, args.noise),
                             strict=True):
            save_png(img, out / f"seed{seed:04d}.png")
    print(f"wrote PNGs to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
