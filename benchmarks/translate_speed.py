"""How fast pix2pix translates, and that any size comes back at its own size.

Times ``translate.translate_image`` (derivation of the input included, as the page and
the command line run it) on a 256 x 256 photograph crop, median over ``--repeats``
runs after one warm-up, then checks one 512 x 512 and one 1024 x 768 image (the
latter tiled). Without a checkpoint it uses an untrained pix2pix of the given crop
size and width (speed does not depend on the weights).

    .venv/bin/python benchmarks/translate_speed.py checkpoints/pix2pix-photos-grey.safetensors
    .venv/bin/python benchmarks/translate_speed.py --crop 64 --width 64 --pairs grey
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def untrained(crop: int, width: int, pairs: str):
    import torch

    from gan_core import checkpoints
    from gan_core.config import Config
    from gan_core.data.base import DataInfo
    from gan_core.recipes import RECIPES, resolve
    from gan_core.translate import translator_from

    data = "faces-lfw" if pairs == "edges" else "photos"
    cfg = resolve(Config(recipe="pix2pix").replace(**{"data.name": data, "data.pairs": pairs, "data.image_size": crop,
                                                      "model.width": width, "train.device": "cpu"}))
    info = DataInfo(data, "image", (1 if data == "faces-lfw" else 3, crop, crop))
    torch.manual_seed(0)
    G, D = RECIPES.get("pix2pix").build(cfg, info)
    raw = checkpoints.weights_bytes(cfg, info, 0, G, D)
    return translator_from(checkpoints.parse(raw, f"untrained-{crop}px-w{width}.safetensors"))


def photo(h: int, w: int) -> np.ndarray:
    from PIL import Image
    from skimage.data import astronaut

    return np.asarray(Image.fromarray(astronaut()).resize((w, h), Image.Resampling.LANCZOS))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", help="a pix2pix .safetensors file (default: an untrained model)")
    parser.add_argument("--crop", type=int, default=64, help="untrained model: training crop size (default 64)")
    parser.add_argument("--width", type=int, default=64, help="untrained model: base channels (default 64)")
    parser.add_argument("--pairs", default="grey", choices=("edges", "grey", "blur", "mask"), help="untrained model: pairs (default grey)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from gan_core.translate import load_translator, translate_image

    if args.threads:
        torch.set_num_threads(args.threads)
    tr = load_translator(args.checkpoint) if args.checkpoint else untrained(args.crop, args.width, args.pairs)
    image = photo(256, 256)
    translate_image(tr, image)  # warm-up: first-call allocations
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        out = translate_image(tr, image).output
        times.append((time.perf_counter() - t) * 1000)
    assert out.shape[:2] == (256, 256)
    sizes = {}
    for h, w in ((512, 512), (768, 1024)):
        t = time.perf_counter()
        out = translate_image(tr, photo(h, w)).output
        sizes[f"{w}x{h}"] = {"ms": round((time.perf_counter() - t) * 1000, 1), "kept_size": out.shape[:2] == (h, w)}
    result = {"model": tr.describe(), "threads": torch.get_num_threads(), "repeats": args.repeats,
              "median_ms_256": round(statistics.median(times), 1), "min_ms_256": round(min(times), 1), "others": sizes}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']}, {result['threads']} threads")
        print(f"256 x 256: median {result['median_ms_256']} ms over {args.repeats} runs (min {result['min_ms_256']} ms)")
        for k, v in sizes.items():
            print(f"{k}: {v['ms']} ms, size kept: {v['kept_size']}")
    return 0 if all(v["kept_size"] for v in sizes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
