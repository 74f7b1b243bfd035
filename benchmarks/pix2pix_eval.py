"""Held-out evaluation of pix2pix checkpoints, as in the paper's ablation (Isola et al. 2017).

On pairs not trained on (``--split val`` of the checkpoints' own data: the held-out
tenth of derived pairs, or the val/ folder of pairs on disk), centre crops at the
training size, it reports for the identity baseline (the source itself, in the
target's channels) and every checkpoint given:

    L1      mean absolute error, pixels in [0, 1] (lower is better)
    PSNR    peak signal-to-noise ratio in dB, per image then averaged (higher is better)
    SSIM    structural similarity (scikit-image), per image then averaged (higher is better)
    hist L / a / b   intersection of the Lab colour histograms of all outputs with
            those of all targets (the paper's Fig. 7 metric; 1 = the same colour
            distribution). Grey targets have only L.

    .venv/bin/python benchmarks/pix2pix_eval.py L1=runs/<a>/checkpoints/last.safetensors \\
        cGAN=runs/<b>/... L1+cGAN=runs/<c>/... [--json]

All checkpoints must share their data settings (source, pairs, crop size), so they
are scored on the same pairs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Histogram ranges and bins: L in [0, 100], a and b in [-128, 128), 1-unit bins as in the paper's plots.
LAB_RANGES = {"L": (0.0, 100.0, 100), "a": (-128.0, 128.0, 256), "b": (-128.0, 128.0, 256)}


def held_out(data_cfg, split: str):
    from gan_core.data import load_data

    data = load_data(dataclasses.replace(data_cfg, split=split, limit=None, workers=0))
    n = len(data)
    items = [data.item(i) for i in range(n)]
    import torch

    batch = data.center({k: torch.stack([it[k] for it in items]) for k in ("source", "target")})
    return batch["source"], batch["target"]


def to_uint8(x) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def lab_hist_intersection(outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    from skimage.color import rgb2lab

    if outputs.shape[-1] == 1:
        channels = {"L": lambda x: x[..., 0].astype(np.float64) / 255.0 * 100.0}
    else:
        channels = {k: (lambda x, i=i: rgb2lab(x)[..., i]) for i, k in enumerate("Lab")}
    out = {}
    for name, get in channels.items():
        lo, hi, bins = LAB_RANGES[name]
        h_out = np.histogram(np.concatenate([get(o).ravel() for o in outputs]), bins=bins, range=(lo, hi))[0].astype(np.float64)
        h_tgt = np.histogram(np.concatenate([get(t).ravel() for t in targets]), bins=bins, range=(lo, hi))[0].astype(np.float64)
        out[name] = float(np.minimum(h_out / h_out.sum(), h_tgt / h_tgt.sum()).sum())
    return out


def scores(outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    l1 = float(np.abs(outputs.astype(np.float64) - targets.astype(np.float64)).mean() / 255.0)
    psnr = [peak_signal_noise_ratio(t, o, data_range=255) for o, t in zip(outputs, targets)]
    ssim = [structural_similarity(t, o, data_range=255, channel_axis=2) for o, t in zip(outputs, targets)]
    finite = [p for p in psnr if np.isfinite(p)]
    return {"L1": l1, "PSNR": float(np.mean(finite)) if finite else float("inf"), "SSIM": float(np.mean(ssim)),
            **{f"hist {k}": v for k, v in lab_hist_intersection(outputs, targets).items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", metavar="NAME=CHECKPOINT")
    parser.add_argument("--split", default="val", choices=("val", "test", "train"), help="which pairs to score (default: val)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    import torch

    from gan_core.translate import as_channels, load_translator

    named = []
    for arg in args.checkpoints:
        name, eq, path = arg.partition("=")
        if not eq:
            name, path = Path(arg).parent.parent.name or arg, arg
        named.append((name, load_translator(path)))
    first = named[0][1].gen.config.data
    key = lambda c: (c.name, c.path, c.pairs, c.image_size, c.channels, c.direction)
    for name, tr in named:
        if key(tr.gen.config.data) != key(first):
            print(f"error: {name} was trained on other data ({key(tr.gen.config.data)}) than {named[0][0]} ({key(first)}).", file=sys.stderr)
            return 2
    source, target = held_out(first, args.split)
    targets = to_uint8(target)
    channels = targets.shape[-1]
    results = {"identity": scores(np.stack([as_channels(s, channels) for s in to_uint8(source)]), targets)}
    for name, tr in named:
        with torch.inference_mode():
            out = torch.cat([tr.gen.model(source[i : i + 64]) for i in range(0, len(source), 64)])
        results[name] = scores(to_uint8(out), targets)
    what = f"{first.name}" + (f" --pairs {first.pairs}" if first.pairs else f" {first.path}") + f", {args.split} split, {len(targets)} pairs at {first.image_size} px"
    if args.json:
        print(json.dumps({"data": what, "results": results}))
        return 0
    cols = list(next(iter(results.values())))
    print(what)
    print(f"{'':12}" + "".join(f"{c:>10}" for c in cols))
    for name, r in results.items():
        print(f"{name:12}" + "".join(f"{r[c]:10.4f}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
