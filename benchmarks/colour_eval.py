"""The Lab colouriser on grey photographs, re-measured from a shipped file, and its default strength.

A user with a black-and-white photograph uploads a grey picture, so each photograph
here is made grey first (ITU-R 601, ``paired.to_grey``) and translated as it is
(``translate.translate_picture(derive=False)``: the page's "already grey" and
``translate --no-derive``) at the page's default scale, then scored against the true
colour photograph:

    PSNR     dB on RGB in [0, 255]; "grey" is the grey input itself (doing nothing)
    ab err   mean CIELAB a*b* distance to the true photograph (scikit-image's rgb2lab)
    chroma   mean a*b* chroma of the output over the true photograph's, in %

Validation photographs (``--data colour-photos --split val``: scikit-image's chelsea
and rocket, never trained on) choose the default strength: the largest strength on a
0.1 grid at which every validation photograph stays within ``MARGIN`` dB of its grey
input (the 0.5 dB the held-out photographs are promised; 0.25 dB, tried first, chose a
strength too weak to add the promised 10% of colour, docs/BENCHMARKS.md). ``--write``
stores it in the checkpoint (the generator's ``default_strength`` buffer), so the file
carries it to the page and the command line.
The held-out photographs (``--split test``: china.jpg, flower.jpg, grace_hopper.jpg)
are then scored at every strength; ``--old CKPT`` scores an RGB colouriser (the
previous grey -> colour demo) beside it; ``--figure PNG`` writes grey | old | new |
original for each held-out photograph.

    .venv/bin/python benchmarks/colour_eval.py checkpoints/pix2pix-grey-to-colour-photos.safetensors \\
        [--write] [--old OLD.safetensors] [--figure docs/pix2pix-grey-to-colour-example.png] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STRENGTHS = tuple(round(0.1 * i, 1) for i in range(11))
MARGIN = 0.5  # dB below grey a validation photograph may fall at the chosen default: the promise itself


def scores(output: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    from skimage.color import rgb2lab

    mse = float(((output.astype(np.float64) - truth.astype(np.float64)) ** 2).mean())
    out_ab, true_ab = rgb2lab(output)[..., 1:], rgb2lab(truth)[..., 1:]
    return {"psnr": 10 * np.log10(255.0**2 / max(mse, 1e-10)),
            "ab_error": float(np.linalg.norm(out_ab - true_ab, axis=2).mean()),
            "chroma": float(np.linalg.norm(out_ab, axis=2).mean() / max(np.linalg.norm(true_ab, axis=2).mean(), 1e-9))}


def curve(tr, photos: dict[str, np.ndarray], strengths=STRENGTHS) -> dict[str, dict[float, dict]]:
    """{photo: {strength: scores}} of grey versions of ``photos`` through ``tr``."""
    from gan_core.data.paired import to_grey
    from gan_core.translate import translate_picture

    out = {}
    for name, photo in photos.items():
        grey = to_grey(photo)
        out[name] = {s: scores(translate_picture(tr, grey, derive=False, strength=s).output, photo) for s in strengths}
    return out


def choose_strength(val: dict[str, dict[float, dict]]) -> float:
    """The largest strength at which every validation photograph is within MARGIN dB of grey (strength 0)."""
    ok = [s for s in STRENGTHS if all(c[s]["psnr"] >= c[0.0]["psnr"] - MARGIN for c in val.values())]
    return max(ok)


def write_strength(path: Path, strength: float) -> None:
    """Store ``strength`` as the generator's default_strength in the checkpoint at ``path``."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["generator.default_strength"] = torch.tensor(float(strength))
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def old_curve(path: Path, photos: dict[str, np.ndarray]) -> dict[str, dict]:
    """An RGB colouriser (no strength) on the same grey pictures."""
    from gan_core.data.paired import to_grey
    from gan_core.translate import load_translator, translate_picture

    tr = load_translator(path)
    return {name: scores(translate_picture(tr, to_grey(photo), derive=False).output, photo) for name, photo in photos.items()}


def figure(new, old_path: Path | None, photos: dict[str, np.ndarray], out: Path) -> None:
    from PIL import Image

    from gan_core.data.paired import to_grey
    from gan_core.translate import load_translator, translate_picture

    old = load_translator(old_path) if old_path else None
    rows = []
    for photo in photos.values():
        grey = to_grey(photo)
        row = [np.repeat(grey, 3, axis=2)]
        if old is not None:
            row.append(translate_picture(old, grey, derive=False).output)
        row += [translate_picture(new, grey, derive=False).output, photo]
        h = 240
        rows.append(np.concatenate([np.asarray(Image.fromarray(x).resize((round(x.shape[1] * h / x.shape[0]), h), Image.LANCZOS))
                                    for x in row], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(rows)).save(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--write", action="store_true", help="store the strength chosen on validation in the checkpoint")
    parser.add_argument("--old", type=Path, help="an RGB colouriser to score beside it")
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from gan_core.data.builtin import colour_photos
    from gan_core.translate import border_ratio, l1_error_map, load_translator, translate_picture
    from gan_core.data.paired import to_grey

    tr = load_translator(args.checkpoint)
    if not tr.lab:
        raise SystemExit(f"{args.checkpoint.name} is not a Lab colouriser (--pairs lab).")
    val = curve(tr, colour_photos("val"))
    chosen = choose_strength(val)
    if args.write:
        write_strength(args.checkpoint, chosen)
        tr = load_translator(args.checkpoint)
    default = round(float(tr.default_strength), 3)  # float32 in the file: 0.2 reads 0.2000000029
    test_photos = colour_photos("test")
    test = curve(tr, test_photos, sorted({*STRENGTHS, default}))
    borders = {n: border_ratio(l1_error_map(translate_picture(tr, to_grey(p), derive=False).output, p)) for n, p in test_photos.items()}
    old = old_curve(args.old, test_photos) if args.old else None
    result = {"validation": val, "chosen": chosen, "default": default, "test": test, "old": old, "border": borders}
    if args.json:
        print(json.dumps(result, default=float, indent=1))
    else:
        print(f"validation ({', '.join(val)}): strength chosen {chosen} (largest within {MARGIN} dB of grey on each); file's default {default}")
        for name, c in val.items():
            print("  " + name + ": " + ", ".join(f"{s}: {c[s]['psnr']:.2f} dB" for s in STRENGTHS))
        print("\n| photo | grey PSNR | old PSNR | new PSNR | new - grey | grey ab err | old ab err | new ab err | old chroma | new chroma | border |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, c in test.items():
            o = old[name] if old else {"psnr": float("nan"), "ab_error": float("nan"), "chroma": float("nan")}
            g, n = c[0.0], c[default]
            print(f"| {name} | {g['psnr']:.2f} | {o['psnr']:.2f} | {n['psnr']:.2f} | {n['psnr'] - g['psnr']:+.2f} | {g['ab_error']:.2f} | "
                  f"{o['ab_error']:.2f} | {n['ab_error']:.2f} | {100 * o['chroma']:.0f}% | {100 * n['chroma']:.0f}% | {borders[name]:.2f} |")
        print("\nstrength curve, mean over the held-out photographs (PSNR - grey's, worst photo's PSNR - grey's, ab error, chroma):")
        print("| strength | PSNR - grey (mean) | worst photo | ab error | chroma |")
        print("|---|---|---|---|---|")
        for s in sorted({*STRENGTHS, default}):
            d = [c[s]["psnr"] - c[0.0]["psnr"] for c in test.values()]
            ab = np.mean([c[s]["ab_error"] for c in test.values()])
            ch = np.mean([c[s]["chroma"] for c in test.values()])
            print(f"| {s}{' (default)' if s == default else ''} | {np.mean(d):+.2f} | {min(d):+.2f} | {ab:.2f} | {100 * ch:.0f}% |")
    if args.figure:
        figure(tr, args.old, test_photos, args.figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
