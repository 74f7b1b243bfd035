"""Does the trainer's bookkeeping cost speed? The trainer and a plain PyTorch
loop (the pytorch/examples DCGAN loop: no logging, no checkpoints) train the same
model on the same data with the same batch size, side by side in one process,
in alternating rounds; images/s are compared over the same window of steps.

    python benchmarks/trainer_overhead.py --rounds 5 --steps 300

The trainer's window includes its real bookkeeping at default settings: a
metrics line every 10 steps, a sample grid every 100, a checkpoint every 250.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gan_core import losses, runs  # noqa: E402
from gan_core.config import Config  # noqa: E402
from gan_core.data import load_data  # noqa: E402
from gan_core.recipes import RECIPES, make_optimizer, resolve  # noqa: E402
from gan_core.training import train  # noqa: E402

WARMUP = 20


def plain_loop(cfg: Config, steps: int) -> float:
    """images/s of a bare loop over steps WARMUP+1 .. WARMUP+steps."""
    data = load_data(cfg.data)
    real_all = data.tensors["real"]
    torch.manual_seed(cfg.train.seed)
    G, D = RECIPES.get(cfg.recipe).build(cfg, data.info())
    opt_g = make_optimizer(cfg, G.parameters(), cfg.optim.lr_g)
    opt_d = make_optimizer(cfg, D.parameters(), cfg.optim.lr_d)
    b = cfg.train.batch_size
    gen = torch.Generator().manual_seed(0)
    for step in range(WARMUP + steps):
        if step == WARMUP:
            t0 = time.perf_counter()
        real = real_all[torch.randint(len(real_all), (b,), generator=gen)]
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        with torch.no_grad():
            fake = G(torch.randn(b, cfg.model.z_dim))
        loss_d = losses.d_loss_real(D(real)) + losses.d_loss_fake(D(fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # (2) Update G: maximize log(D(G(z)))
        D.requires_grad_(False)
        loss_g = losses.g_loss_non_saturating(D(G(torch.randn(b, cfg.model.z_dim))))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
    return steps * b / (time.perf_counter() - t0)


def trainer(cfg: Config, steps: int) -> float:
    """images/s of gan_core.training.train over the same window of steps."""
    marks = {}

    def on_progress(step, total, row):
        if step in (WARMUP, WARMUP + steps):
            marks[step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        cfg = cfg.replace(**{"train.steps": WARMUP + steps})
        train(cfg, runs.create_run(cfg, tmp), on_progress=on_progress)
    return steps * cfg.train.batch_size / (marks[WARMUP + steps] - marks[WARMUP])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="dcgan")
    ap.add_argument("--data", default="faces-lfw")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=300, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    cfg = resolve(Config(recipe=args.recipe).replace(**{
        "data.name": args.data, "train.batch_size": args.batch_size, "train.device": "cpu"}))
    print(f"{args.recipe} on {args.data}, batch {args.batch_size}, width {cfg.model.width}, "
          f"{args.steps} timed steps per round, torch {torch.__version__}, {torch.get_num_threads()} threads")
    plain, ours = [], []
    for r in range(args.rounds):
        # Alternate the order so drift in machine load hits both equally.
        order = [("plain", plain_loop, plain), ("trainer", trainer, ours)]
        for name, fn, out in order if r % 2 == 0 else order[::-1]:
            out.append(fn(cfg, args.steps))
            print(f"round {r + 1}: {name:8} {out[-1]:7.1f} images/s", flush=True)
    ratios = [o / p for o, p in zip(ours, plain)]
    print(f"\nmedian images/s: plain loop {statistics.median(plain):.1f}, trainer {statistics.median(ours):.1f}")
    print(f"trainer / plain, per round: {', '.join(f'{x:.3f}' for x in ratios)}; median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
