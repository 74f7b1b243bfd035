"""x4 super-resolution on photographs no model here trained on, re-measured from a shipped file.

For each held-out photograph (scikit-learn's ``china.jpg`` and ``flower.jpg``,
matplotlib's ``grace_hopper.jpg``: ``gan_core.data.builtin.held_out_photos``), cropped
to a multiple of 4 a side, the picture a user would upload is the photo shrunk 4x
(bicubic, antialiased). It goes through ``translate.translate_picture(enlarge=4)``,
the Pix2Pix page's "Make it 4x larger" and ``translate --enlarge 4``: enlarged 4x by
bicubic, then translated. Scored against the original photo:

    bicubic    the enlargement alone (doing nothing more)
    model      the translation
    PSNR       dB on RGB in [0, 255], and on luminance Y (ITU-R 601, as SRCNN and SRGAN
               report it) with 4 pixels shaved off each side, per photo
    SSIM       scikit-image's structural similarity on RGB (channel_axis), per photo
    border     translate.border_ratio: the worst outermost 4-pixel strip's mean error
               over the median column's, on the whole output (no shave)
    grid       the amplitude (grey levels) of the strongest period-2, -4 or -8 pattern in
               the detail the model adds to bicubic: a checkerboard, if any

``border vs bicubic`` is the model's border ratio over bicubic's on the same photo:
a photo whose outer rows are harder than its middle (foliage along the bottom of
``flower.jpg``) has a high ratio for doing nothing too, and 1 means the model adds no
border error of its own. ``--speed`` times a x4 enlargement of a 256 x 256 upload
(median of 5, after one warm-up).

``--border CKPT...`` also measures the border ratio of other translators (the grey and
edge demos) on the same photographs at the page's default scale ("as trained"),
against the picture each derives its input from; and, content-neutral, over 200 random
128-px uploads cut from each photograph, their error maps averaged (``uploads``). ``--figure PNG`` writes crops of
bicubic | model | original at 100% zoom, one row per photo.

    .venv/bin/python benchmarks/super_resolution_eval.py \\
        [checkpoints/pix2pix-super-resolution-photos.safetensors] [--border checkpoints/pix2pix-*.safetensors] \\
        [--figure docs/pix2pix-super-resolution-example.png] [--speed] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT = ROOT / "checkpoints" / "pix2pix-super-resolution-photos.safetensors"
FACTOR = 4
CROP = 128  # side of the figure's crops, shown at 100%


def luminance(image: np.ndarray) -> np.ndarray:
    """uint8 RGB -> Y in [16, 235] as float64 (ITU-R 601, the convention of SRCNN's MATLAB code)."""
    rgb = image.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def scores(output: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    from skimage.metrics import peak_signal_noise_ratio as psnr
    from skimage.metrics import structural_similarity as ssim

    s = FACTOR
    y_out, y_true = luminance(output)[s:-s, s:-s], luminance(truth)[s:-s, s:-s]
    return {
        "psnr": float(psnr(truth, output, data_range=255)),
        "psnr_y": float(psnr(y_true, y_out, data_range=255)),
        "ssim": float(ssim(truth, output, data_range=255, channel_axis=2)),
    }


def checkerboard(detail: np.ndarray) -> float:
    """The amplitude, in grey levels, of the strongest period-2, -4 or -8 grid (along x, y
    or both) in ``detail`` (H, W, 3), what a model adds to bicubic: the pattern a U-Net's
    strided layers leave when they checkerboard. The true photo's own detail (photo minus
    bicubic) is the floor to compare with: JPEG's 8 x 8 blocks put some there too."""
    grey = detail.astype(np.float64).mean(axis=2)
    spectrum = np.abs(np.fft.fft2(grey - grey.mean())) * 2 / grey.size  # a real cosine's amplitude
    h, w = grey.shape
    return float(max(spectrum[a, b] for period in (2, 4, 8) for a, b in ((0, w // period), (h // period, 0), (h // period, w // period))))


def super_resolution(path: Path) -> tuple[list[dict], list[np.ndarray]]:
    from gan_core.data.builtin import held_out_photos
    from gan_core.data.paired import bicubic_resize
    from gan_core.translate import border_ratio, l1_error_map, load_translator, translate_picture

    tr = load_translator(path)
    rows, figure = [], []
    for name, photo in held_out_photos().items():
        h, w = (d - d % FACTOR for d in photo.shape[:2])
        truth = np.ascontiguousarray(photo[:h, :w])
        upload = bicubic_resize(truth, w // FACTOR, h // FACTOR)
        result = translate_picture(tr, upload, enlarge=FACTOR, name=name)
        assert result.output.shape == truth.shape, (result.output.shape, truth.shape)
        bicubic = result.picture  # what the model was given: the upload enlarged by bicubic
        row = {"photo": name, "size": f"{w} x {h}", "upload": f"{w // FACTOR} x {h // FACTOR}"}
        for what, image in (("bicubic", bicubic), ("model", result.output)):
            for k, v in scores(image, truth).items():
                row[f"{what}_{k}"] = v
            row[f"{what}_border"] = border_ratio(l1_error_map(image, truth))
        row["model_grid"] = checkerboard(result.output.astype(np.float64) - bicubic)
        row["truth_grid"] = checkerboard(truth.astype(np.float64) - bicubic)
        rows.append(row)
        top, left = (h - CROP) // 2, (w - CROP) // 2
        cut = (slice(top, top + CROP), slice(left, left + CROP))
        figure.append(np.concatenate([bicubic[cut], np.full((CROP, 4, 3), 255, np.uint8), result.output[cut],
                                      np.full((CROP, 4, 3), 255, np.uint8), truth[cut]], axis=1))
    return rows, figure


def sides(error: np.ndarray, strip: int = 4) -> dict[str, tuple[float, float]]:
    """Per side (left, right, top, bottom): the outermost ``strip`` pixels' mean error and
    the next ``2 * strip`` pixels' inward, each over the median column's (as
    ``translate.border_ratio``). A band the translator adds shows as an edge well above
    the strip just inside it; a photo whose edge is simply harder shows as both high."""
    e = np.asarray(error, dtype=np.float64)
    median = max(float(np.median(e.mean(axis=0))), 1e-12)
    cuts = {"left": (e[:, :strip], e[:, strip : 3 * strip]), "right": (e[:, -strip:], e[:, -3 * strip : -strip]),
            "top": (e[:strip], e[strip : 3 * strip]), "bottom": (e[-strip:], e[-3 * strip : -strip])}
    return {side: (float(edge.mean()) / median, float(inner.mean()) / median) for side, (edge, inner) in cuts.items()}


def frame_parts(error: np.ndarray, strip: int = 4) -> tuple[float, float]:
    """The outermost ``strip`` columns and rows taken together (the picture's frame): their
    mean error, and the median column's, as the error map gives them."""
    e = np.asarray(error, dtype=np.float64)
    e = e.mean(axis=2) if e.ndim == 3 else e
    frame = np.ones(e.shape, dtype=bool)
    frame[strip:-strip, strip:-strip] = False
    return float(e[frame].mean()), float(np.median(e.mean(axis=0)))


def frame_ratio(error: np.ndarray, strip: int = 4) -> float:
    """The criterion's other reading: the frame's mean error over the median column's."""
    frame, middle = frame_parts(error, strip)
    return frame / max(middle, 1e-12)


def borders(paths: list[Path]) -> list[dict]:
    """Border ratios of any translators at the page's default scale, on the held-out
    photographs: the worst side, the strip just inside it, and the same side's ratio
    for the translator's own input (the grey picture, the bicubic enlargement) when it
    is a picture of the same kind as the output."""
    from gan_core.data.builtin import held_out_photos
    from gan_core.translate import border_ratio, l1_error_map, load_translator, translate_picture

    out = []
    for path in paths:
        tr = load_translator(path)
        for name, photo in held_out_photos().items():
            result = translate_picture(tr, photo, name=name)  # the page's defaults: as-trained scale, derived input
            per_side = sides(result.error)
            worst = max(per_side, key=lambda k: per_side[k][0])
            row = {"checkpoint": path.name, "photo": name, "border": border_ratio(result.error), "side": worst,
                   "inner": per_side[worst][1], "input": None, "frame": frame_ratio(result.error), "input_frame": None,
                   "frame_parts": frame_parts(result.error), "input_frame_parts": None}
            if tr.pairs in ("lab", "sr4") and result.source.shape[:2] == photo.shape[:2]:
                given = l1_error_map(result.source, photo)
                row["input"], row["input_frame"] = sides(given)[worst][0], frame_ratio(given)
                row["input_frame_parts"] = frame_parts(given)
            row.update(uploads(tr, name, photo))
            out.append(row)
    return out


UPLOADS, UPLOAD_SIDE = 200, 128  # random crops per photograph, and their side


def uploads(tr, name: str, photo: np.ndarray) -> dict:
    """The border ratio over many small uploads cut from one photograph: ``UPLOADS``
    random ``UPLOAD_SIDE``-px crops (seeded by the photo's name), each translated as the
    page does by default, their error maps averaged pixel by pixel, then
    ``border_ratio`` of that mean. Each crop's edges fall somewhere else in the photo, so
    the content near the edges and in the middle columns is nearly the same and what is
    left is what the translator does at a picture's edge (a band shows at its full
    height). Beside it, the same for the translator's input (doing nothing). And
    ``same_pixels``, content-neutral by construction: for the worst side, the mean error
    of photo pixels when they lay in that side's outer 4-px strip of a crop, over the
    mean error of the same pixels when they lay in a crop's middle."""
    import zlib

    from gan_core.translate import BORDER, border_ratio, l1_error_map, translate_picture

    rng = np.random.default_rng(zlib.crc32(name.encode()))
    h, w = photo.shape[:2]
    errors, inputs = [], []
    # Per photo pixel, the error sum and count when it lay in each side's outer strip of a
    # crop, and in a crop's middle (at least a quarter of the side from every edge).
    i = np.arange(UPLOAD_SIDE)
    d = np.minimum.outer(*(2 * [np.minimum(i, i[::-1])]))  # distance to the crop's nearest edge
    where = {"left": np.broadcast_to(i[None, :] < BORDER, d.shape), "right": np.broadcast_to(i[None, ::-1] < BORDER, d.shape),
             "top": np.broadcast_to(i[:, None] < BORDER, d.shape), "bottom": np.broadcast_to(i[::-1, None] < BORDER, d.shape),
             "middle": d >= UPLOAD_SIDE // 4}
    at = {k: np.zeros((3, h, w)) for k in where}  # error sum, count, the input's error sum
    for _ in range(UPLOADS):
        top, left = int(rng.integers(0, h - UPLOAD_SIDE + 1)), int(rng.integers(0, w - UPLOAD_SIDE + 1))
        crop = np.ascontiguousarray(photo[top : top + UPLOAD_SIDE, left : left + UPLOAD_SIDE])
        result = translate_picture(tr, crop)
        errors.append(result.error)
        given = l1_error_map(result.source, crop) if tr.pairs in ("lab", "sr4") else None
        if given is not None:
            inputs.append(given)
        for k, mask in where.items():
            view = at[k][:, top : top + UPLOAD_SIDE, left : left + UPLOAD_SIDE]
            view[0][mask] += result.error[mask]
            view[1][mask] += 1
            if given is not None:
                view[2][mask] += given[mask]
    def same_pixels(side: str, of: int = 0) -> float:  # the side's strip over the middle, on the pixels seen in both
        both = (at[side][1] > 0) & (at["middle"][1] > 0)
        edge, middle = (at[k][of][both] / at[k][1][both] for k in (side, "middle"))
        return float(edge.mean() / middle.mean())

    sides_ = ("left", "right", "top", "bottom")
    return {"uploads": border_ratio(np.mean(errors, axis=0)),
            "uploads_input": border_ratio(np.mean(inputs, axis=0)) if inputs else None,
            "same_pixels": max(same_pixels(side) for side in sides_),
            "same_pixels_input": max(same_pixels(side, 2) for side in sides_) if inputs else None}


def enlarge_speed(path: Path) -> dict[str, float]:
    import time

    from gan_core.data.builtin import held_out_photos
    from gan_core.translate import load_translator, translate_picture

    tr = load_translator(path)
    upload = np.ascontiguousarray(held_out_photos()["china.jpg"][100:356, 200:456])
    translate_picture(tr, upload, enlarge=FACTOR)  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        translate_picture(tr, upload, enlarge=FACTOR)
        times.append(time.perf_counter() - start)
    return {"median": float(np.median(times)), "min": float(min(times))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--border", nargs="*", type=Path, default=[], metavar="CKPT",
                        help="other translators whose border ratio to measure at the page's default scale")
    parser.add_argument("--figure", type=Path, help="write bicubic | model | original crops at 100%% zoom here")
    parser.add_argument("--speed", action="store_true", help="time a x4 enlargement of a 256 x 256 upload (median of 5)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    rows, figure = super_resolution(args.checkpoint)
    border_rows = borders(args.border)
    speed = enlarge_speed(args.checkpoint) if args.speed else None
    if args.figure:
        from PIL import Image

        gap = np.full((4, figure[0].shape[1], 3), 255, np.uint8)
        Image.fromarray(np.concatenate([x for f in figure for x in (f, gap)][:-1], axis=0)).save(args.figure)
    if args.json:
        print(json.dumps({"super_resolution": rows, "borders": border_rows, "enlarge_256_seconds": speed}, indent=2))
        return 0
    print(f"x{FACTOR} super-resolution of {args.checkpoint.name} on the held-out photographs")
    print(f"{'photo':18} {'size':>10} | {'PSNR bicubic':>12} {'model':>6} {'gain':>6} | {'PSNR-Y bic.':>11} {'model':>6} | "
          f"{'SSIM bic.':>9} {'model':>6} | {'border bic.':>11} {'model':>6}")
    for r in rows:
        print(f"{r['photo']:18} {r['size']:>10} | {r['bicubic_psnr']:12.2f} {r['model_psnr']:6.2f} "
              f"{r['model_psnr'] - r['bicubic_psnr']:+6.2f} | {r['bicubic_psnr_y']:11.2f} {r['model_psnr_y']:6.2f} | "
              f"{r['bicubic_ssim']:9.4f} {r['model_ssim']:6.4f} | {r['bicubic_border']:11.2f} {r['model_border']:6.2f}")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k.startswith(("bicubic_", "model_"))}
    print(f"{'mean':18} {'':>10} | {mean['bicubic_psnr']:12.2f} {mean['model_psnr']:6.2f} "
          f"{mean['model_psnr'] - mean['bicubic_psnr']:+6.2f} | {mean['bicubic_psnr_y']:11.2f} {mean['model_psnr_y']:6.2f} | "
          f"{mean['bicubic_ssim']:9.4f} {mean['model_ssim']:6.4f} | {mean['bicubic_border']:11.2f} {mean['model_border']:6.2f}")
    print("period-2/4/8 grid in the detail added to bicubic, in grey levels (model / the true photo's): " + ", ".join(
        f"{r['photo']} {r['model_grid']:.2f} / {r['truth_grid']:.2f}" for r in rows))
    print("border vs bicubic (model's ratio / bicubic's): " + ", ".join(
        f"{r['photo']} {r['model_border'] / r['bicubic_border']:.2f}" for r in rows))
    if speed is not None:
        print(f"x{FACTOR} enlargement of a 256 x 256 upload to 1024 x 1024: median {speed['median']:.2f} s over 5 "
              f"(min {speed['min']:.2f} s)")
    if border_rows:
        print("\nborder ratio at the page's default scale (worst outermost 4-px strip / median column; target <= 1.3);"
              "\nthe next 8 px inward on that side; the translator's own input on that side;"
              f"\nthen over {UPLOADS} random {UPLOAD_SIDE}-px uploads cut from the photo (error maps averaged), and their inputs';"
              "\nthen the same pixels at a crop's edge over in its middle (worst side), and their inputs';"
              "\nthen the four 4-px strips together (the frame) over the median column, and the input's;"
              "\nthen the frame's and the median column's own mean errors (grey levels of 255), and the input's")
        for r in border_rows:
            given = f"{r['input']:.2f}" if r["input"] is not None else "-"
            given_up = f"{r['uploads_input']:.2f}" if r["uploads_input"] is not None else "-"
            print(f"{r['checkpoint']:45} {r['photo']:18} {r['border']:.2f} ({r['side']}) | inner {r['inner']:.2f} | "
                  f"input {given} | uploads {r['uploads']:.2f} | their input {given_up} | same pixels {r['same_pixels']:.2f}"
                  + (f" | their input {r['same_pixels_input']:.2f}" if r["same_pixels_input"] is not None else "")
                  + f" | frame {r['frame']:.2f}" + (f" | input's {r['input_frame']:.2f}" if r["input_frame"] is not None else "")
                  + " | errors {:.2f} / {:.2f}".format(*(255 * v for v in r["frame_parts"]))
                  + (" | input's {:.2f} / {:.2f}".format(*(255 * v for v in r["input_frame_parts"]))
                     if r["input_frame_parts"] is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
