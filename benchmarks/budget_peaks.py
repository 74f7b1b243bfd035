"""Measured against estimated: gan_core.budget's generator model, and whole requests.

    .venv/bin/python benchmarks/budget_peaks.py            # prints three tables (about 4 minutes on 2 cores)

Generators: the peak RSS growth of one no_grad forward pass, in a fresh process with one
thread, at two batch sizes; the slope between them is the measured bytes per sample,
beside ``budget.generator_peak`` (the estimate). Requests: ``inference.sample`` of the
shipped generators in a fresh process under a given GAN_WORKBENCH_MEMORY_BUDGET: peak
growth beside the plan's own peak and the budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORWARD = r"""
import json, resource, sys, torch
from gan_core.models import DCGANGenerator, MLPGenerator
spec = json.loads(sys.argv[1]); n = int(sys.argv[2])
torch.manual_seed(0)
if spec["arch"] == "conv":
    G = DCGANGenerator(spec["z"], spec["c"], spec["s"], spec["w"], spec.get("k", 0))
else:
    G = MLPGenerator(spec["z"], (spec["c"], spec["s"], spec["s"]), spec["w"], cond_dim=spec.get("k", 0))
G.eval()
def run(n):
    z = torch.randn(n, spec["z"]); cond = torch.zeros(n, spec["k"]) if spec.get("k") else None
    with torch.no_grad():
        return G(z, cond)
run(2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = run(n)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""

REQUEST = r"""
import resource, sys
from gan_core import budget, inference
gen = inference.load_generator(sys.argv[1]); n = int(sys.argv[2])
inference.sample(gen, 2)
g, plan = inference._sampling(gen, n, "Sampling")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
images = inference.sample(gen, n, seed=1)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, plan.chunk, plan.peak, budget.limit())
"""

TRANSLATION = r"""
import os, resource, sys, numpy as np
from gan_core import budget, translate
tr = translate.load_translator(sys.argv[1]); h, w = int(sys.argv[2]), int(sys.argv[3]); scale, realism = sys.argv[4], sys.argv[5] == "1"
picture = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
os.environ["GAN_WORKBENCH_MEMORY_BUDGET"] = "1"  # the engine's own estimate, from its refusal
try:
    translate.translate_picture(tr, picture, scale=scale, realism=realism)
except budget.BudgetError as e:
    estimate = str(e).split("needs about ")[1].split(",")[0]
os.environ["GAN_WORKBENCH_MEMORY_BUDGET"] = "100000"
translate.translate_picture(tr, picture[:64, :64], scale=scale, realism=realism)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
translate.translate_picture(tr, picture, scale=scale, realism=realism)
print(estimate, "|", budget.size_text((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024))
"""

GENERATORS = [  # (spec, small batch, large batch)
    ({"arch": "conv", "z": 100, "c": 1, "s": 32, "w": 32, "name": "dcgan 32 px grey, width 32 (dcgan-faces-lfw)"}, 500, 3000),
    ({"arch": "conv", "z": 100, "c": 3, "s": 64, "w": 64, "name": "dcgan 64 px colour, width 64"}, 40, 240),
    ({"arch": "conv", "z": 100, "c": 3, "s": 128, "w": 64, "name": "dcgan 128 px colour, width 64"}, 10, 80),
    ({"arch": "conv", "z": 100, "c": 3, "s": 256, "w": 64, "name": "dcgan 256 px colour, width 64"}, 4, 24),
    ({"arch": "mlp", "z": 100, "c": 1, "s": 28, "w": 256, "k": 10, "name": "mlp 28 px grey, width 256, 10 classes (cgan-mnist)"}, 1000, 10000),
    ({"arch": "mlp", "z": 100, "c": 3, "s": 64, "w": 256, "name": "mlp 64 px colour, width 256"}, 300, 2500),
]


def _run(code: str, *args, env=None) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return out.stdout.strip()


def main() -> None:
    from gan_core import budget

    print("| generator | estimated per sample | measured per sample | estimate / measured |")
    print("|---|---|---|---|")
    for spec, small, large in GENERATORS:
        a, b = (int(_run(FORWARD, json.dumps(spec), n)) for n in (small, large))
        measured = (b - a) / (large - small)
        g = budget.GeneratorShape(spec["arch"], (spec["c"], spec["s"], spec["s"]), spec["w"], spec["z"], spec.get("k", 0))
        est = budget.generator_peak(g)
        print(f"| {spec['name']} | {budget.size_text(est)} | {budget.size_text(measured)} | {est / measured:.1f} |")
    print()
    print("| request | budget | chunk | plan's peak | measured peak growth |")
    print("|---|---|---|---|---|")
    for ckpt, n, mb in (("dcgan-faces-lfw", 2000, None), ("dcgan-faces-lfw", 2000, 32), ("cgan-mnist", 20000, 32), ("cgan-mnist", 20000, 64)):
        env = {"GAN_WORKBENCH_MEMORY_BUDGET": str(mb)} if mb else {}
        grown, chunk, peak, limit = _run(REQUEST, ROOT / "checkpoints" / f"{ckpt}.safetensors", n, env=env).split()
        print(f"| sample {n:,} of {ckpt} | {budget.size_text(int(limit))} | {int(chunk):,} | {budget.size_text(int(peak))} | "
              f"{budget.size_text(int(grown))} |")
    print()
    print("| translation (12 MP picture, 4000 x 3000) | estimated | measured peak growth |")
    print("|---|---|---|")
    for ckpt, scale, realism in (("edges-to-faces", "full", "1"), ("edges-to-faces", "as-trained", "0"),
                                 ("grey-to-colour-photos", "full", "1"), ("grey-to-colour-photos", "full", "0"),
                                 ("grey-to-colour-photos", "as-trained", "0")):
        line = _run(TRANSLATION, ROOT / "checkpoints" / f"pix2pix-{ckpt}.safetensors", 3000, 4000, scale, realism)
        print(f"| {ckpt}, {scale}{', realism map' if realism == '1' else ''} | {line} |")


if __name__ == "__main__":
    main()
