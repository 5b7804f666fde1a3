"""The evaluation's figures and its report: sample grids and charts drawn with Pillow alone,
the GAN's SWD over training read from its dvclive file, and one self-contained HTML page with
every figure inlined, so it reads offline from wherever it is copied.
"""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from evaluate import metrics
from marcus.atomic import atomic_path, write_text


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


def line_chart(xs: list[float], ys: list[float], title: str, path: Path,
               x_label: str = "tick") -> None:
    """A small static line chart (Pillow only, like ``bar_chart``): the series, its first and
    last x, and its lowest and highest y."""
    width, height, left, right, top, bottom = 480, 260, 70, 16, 34, 34
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((10, 10), title, fill="black")
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x_span, y_span = (x1 - x0) or 1.0, (y1 - y0) or abs(y1) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline=(160, 160, 160))
    points = [(left + plot_w * (x - x0) / x_span, top + plot_h * (1 - (y - y0) / y_span))
              for x, y in zip(xs, ys, strict=True)]
    if len(points) > 1:
        draw.line(points, fill=(70, 110, 160), width=2)
    for px, py in points:
        draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=(70, 110, 160))
    draw.text((6, top - 6), f"{y1:.4g}", fill="black")
    draw.text((6, top + plot_h - 6), f"{y0:.4g}", fill="black")
    draw.text((left, top + plot_h + 6), f"{x0:g}", fill="black")
    draw.text((left + plot_w - 40, top + plot_h + 6), f"{x1:g}", fill="black")
    draw.text((left + plot_w // 2 - 12, top + plot_h + 6), x_label, fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


# ----------------------------------------------------------------------------------------------
# The GAN's SWD during training (its dvclive file)

SWD_TSV = Path("plots/metrics/metric/swd.tsv")  # where dvclive puts log_metric("metric/swd")


def read_live_series(path: Path, column: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one dvclive .tsv (tab-separated, a header naming ``step``, maybe
    ``timestamp``, and the metric); rows that do not parse are left out."""
    steps, values = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            try:
                step, value = float(row["step"]), float(row[column])
            except (KeyError, TypeError, ValueError):
                continue
            if np.isfinite(value):
                steps.append(step)
                values.append(value)
    return steps, values


def gan_training_swd(gan_live: Path, plots: Path) -> tuple[dict, Path | None]:
    """A summary of the GAN's per-tick SWD (from its dvclive folder ``gan_live``) and its
    chart, or a note when there is no file."""
    tsv = Path(gan_live) / SWD_TSV
    if not tsv.is_file():
        return {"skipped": f"no {tsv}"}, None
    steps, values = read_live_series(tsv, "swd")
    if not values:
        return {"skipped": f"{tsv} holds no swd values"}, None
    chart = plots / "chart_swd_over_training.png"
    line_chart(steps, values, "GAN SWD (x1e3) over training, per tick", chart)
    return {"ticks": len(values), "first": round(values[0], 4), "last": round(values[-1], 4),
            "best": round(min(values), 4)}, chart


def upscaler_html(section: dict) -> str:
    """The report's upscaler tables, or the note saying why it was skipped."""
    if "skipped" in section:
        return (f'<p id="upscaler">Upscaler: skipped ({html.escape(section["skipped"])}).</p>')
    f = section["factor"]
    parts = [f'<div id="upscaler"><p>x{f} upscaler <code>{html.escape(section["model"])}</code> '
             f'on {section["heldout_images"]} held-out paintings (central crops of at most '
             f'{section["crop_px"]} px, downscaled by {f} and upscaled back).</p>']
    recon = section["reconstruction"]
    if "skipped" in recon:
        parts.append(f"<p>Reconstruction: skipped ({html.escape(recon['skipped'])}).</p>")
    else:
        rows = "".join(f"<tr><td>{name}</td><td>{v['psnr_y']:.2f}</td><td>{v['ssim_y']:.4f}"
                       f"</td><td>{v.get('lattice_db', float('nan')):.1f}</td></tr>"
                       for name, v in recon.items())
        parts.append('<table id="upscaler-reconstruction"><tr><th>method</th>'
                     "<th>PSNR-Y (dB)</th><th>SSIM-Y</th><th>lattice peak (dB)</th></tr>"
                     f"{rows}</table>")
    rows = "".join(f"<tr><td>{split}</td><td>{v.get('sr', float('nan')):.2f}</td>"
                   f"<td>{v.get('sr_projected', float('nan')):.2f}</td></tr>"
                   for split, v in section["round_trip_db"].items())
    parts.append('<p>Round trip: PSNR (dB, RGB) of box_down(SR(x)) against x; the projection '
                 f'makes it exact (capped at {metrics.PSNR_CAP_DB:g} dB).</p>'
                 '<table id="upscaler-round-trip"><tr><th>input x</th><th>SR</th>'
                 f"<th>SR projected</th></tr>{rows}</table>")
    scale = section["print_scale"]
    if "swd_mean" in scale:
        rows = "".join(f"<tr><td>{name}</td><td>{v:.3f}</td></tr>"
                       for name, v in scale["swd_mean"].items())
        parts.append(f"<p>Texture at print scale: {scale['images_per_set']} GAN samples "
                     f"upscaled to {scale['sample_px']} px, {scale['crops_per_set']} random "
                     f"{scale['crop_px']} px crops of them, against as many crops of as many "
                     "held-out paintings resized to the same scale. SWD (x1e3), lower is "
                     "better; <em>real_floor</em> is training paintings in place of the "
                     "samples, <em>lanczos</em> the baseline.</p>"
                     '<table id="upscaler-print-scale"><tr><th>crops of</th>'
                     f"<th>SWD (x1e3)</th></tr>{rows}</table>")
    else:
        parts.append(f"<p>Texture at print scale: skipped "
                     f"({html.escape(scale.get('skipped', ''))}).</p>")
    return "\n".join(parts) + "</div>"


def prints_html(section: dict) -> str:
    """The report's table of the prints' pixel lattice, or the note saying why it is empty."""
    if "skipped" in section:
        return f'<p id="prints">Prints: skipped ({html.escape(section["skipped"])}).</p>'
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td colspan=4>skipped: {html.escape(v['skipped'])}"
        "</td></tr>" if "skipped" in v else
        f"<tr><td>{html.escape(name)}</td><td>{v['width']}x{v['height']}</td>"
        f"<td>{v['db']:.1f}</td><td>{v['lanczos_db']:.1f}</td><td>{v['excess_db']:+.1f}</td>"
        f"<td>{v['period_px']:.2f}</td></tr>"
        for name, v in section["prints"].items())
    return (f'<div id="prints"><p>Pixel lattice: the strongest isolated spectral peak of each '
            f'print (dB above its neighbourhood) beside the same picture box-averaged to '
            f'{section["source_px"]} px and enlarged by Lanczos; the excess is what the upscaler '
            f'chain added (goal: at most {section["goal_excess_db"]:g} dB).</p>'
            '<table><tr><th>print</th><th>size (px)</th><th>peak (dB)</th><th>Lanczos (dB)</th>'
            f'<th>excess (dB)</th><th>period (px)</th></tr>{rows}</table></div>')


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
    training = result.get("gan_training_swd", {})
    training_line = (f"skipped ({html.escape(training['skipped'])})" if "skipped" in training
                     else f"{training.get('ticks')} ticks, first {training.get('first'):.3f}, "
                     f"last {training.get('last'):.3f}, best {training.get('best'):.3f} (x1e3)")
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
<p id="gan-training">GAN SWD during training: {training_line}</p>
<h2>Upscaler</h2>
{upscaler_html(result.get("upscaler", {"skipped": "not evaluated"}))}
<h2>Prints</h2>
{prints_html(result.get("prints", {"skipped": "not evaluated"}))}
<h2>Figures</h2>
{figures}
</body></html>
"""
    write_text(path, page)
