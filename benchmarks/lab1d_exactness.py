"""The 1-D lab's p_g, JSD and C(G) against references computed without the lab's grid code.

    .venv/bin/python benchmarks/lab1d_exactness.py

1. G a line (mu + sd z), so p_g = N(mu, sd) exactly: the lab's JSD against a trapezoid
   integral on a million points, for a G as wide as the data, narrow, and mostly beyond the grid.
2. G squeezed to a point (placed at x = 2 with sd 0.002) and D trained against it: V(G, D)
   against C(G) = max_D V, which V must never pass.
3. A trained G's p_g against a histogram of 4 million of its samples (batch norm with the
   quantile batch's statistics, as the lab evaluates G), after 300 rounds of training and
   after "Make p_g = p_data".
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gan_core.lab1d import LOG4, Lab1D, LabSettings, Target


def normal(mu, sd):
    return lambda x: np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def jsd_reference(p, q, lo=-20.0, hi=20.0) -> float:
    """JSD(p || q) in nats by the trapezoid rule on a million points."""
    x = np.linspace(lo, hi, 1_000_001)
    pp, qq = p(x), q(x)
    m = (pp + qq) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 0.5 * np.where(pp > 0, pp * np.log(pp / m), 0) + 0.5 * np.where(qq > 0, qq * np.log(qq / m), 0)
    return float(np.trapezoid(f, x))


def line(lab: Lab1D, mu: float, sd: float) -> None:
    """Make G the line mu + sd z, whose p_g is N(mu, sd) exactly."""
    lab.G = torch.nn.Linear(1, 1)
    with torch.no_grad():
        lab.G.weight.fill_(sd)
        lab.G.bias.fill_(mu)


def squeezed(target: Target) -> Lab1D:
    """A lab whose G is squeezed to a point at x = 2 (sd 0.002) and frozen, for D to train against."""
    lab = Lab1D(target, LabSettings(optimizer="adam", k=5, lr_d=1e-2, seed=0))
    lab.place_generator(2.0, spread=0.002)
    lab.freeze_g = True
    return lab


def samples(lab: Lab1D, n: int, seed: int = 0) -> np.ndarray:
    """n random outputs of G, batch norm normalising with the quantile batch's statistics."""
    quantiles = len(lab._z)
    out = []
    with torch.no_grad():
        for i in range(0, n, 500_000):
            h = torch.cat([lab._z, torch.randn(min(500_000, n - i), 1, generator=torch.Generator().manual_seed(seed + i))])
            for layer in lab.G.net:
                if isinstance(layer, torch.nn.BatchNorm1d):
                    ref = h[:quantiles]
                    h = torch.nn.functional.batch_norm(h, ref.mean(0), ref.var(0, unbiased=False), layer.weight, layer.bias,
                                                       False, 0.0, layer.eps)
                else:
                    h = layer(h)
            out.append(h[quantiles:, 0].double().numpy())
    return np.concatenate(out)


def main() -> None:
    torch.set_num_threads(1)
    target = Target((-2.0, 2.0), (0.6, 0.6))
    p_data = lambda x: 0.5 * normal(-2.0, 0.6)(x) + 0.5 * normal(2.0, 0.6)(x)  # noqa: E731
    print("1. G = mu + sd z against the data (modes at -2 and 2, sd 0.6); JSD in nats")
    print("| G | lab | reference |\n|---|---|---|")
    for mu, sd in ((0.0, 2.0), (2.0, 0.1), (2.0, 0.02), (2.0, 0.005), (7.5, 1.0)):
        lab = Lab1D(target, LabSettings(seed=0))
        line(lab, mu, sd)
        print(f"| N({mu}, {sd}) | {lab.snapshot().row['jsd']:.4f} | {jsd_reference(p_data, normal(mu, sd)):.4f} |")

    print("\n2. G squeezed to a point at 2 (sd 0.002), D alone trained (Adam, lr 0.01)")
    print("| D steps | V(G, D) | C(G) | mean abs(D - D*) |\n|---|---|---|---|")
    lab = squeezed(target)
    for _ in range(4):
        lab.train(200)
        r = lab.snapshot().row
        print(f"| {r['d_steps']} | {r['value']:.4f} | {r['value_at_optimum']:.4f} | {r['gap_to_optimum']:.3f} |")
    print(f"(reference for N(2, 0.002): JSD {jsd_reference(p_data, normal(2.0, 0.002)):.4f}, "
          f"C(G) {-LOG4 + 2 * jsd_reference(p_data, normal(2.0, 0.002)):.4f})")

    print("\n3. p_g of a trained G against a histogram of 4,000,000 of its samples, on the lab's grid")
    print("| G | largest abs difference / p_g's peak | D* range where p_data > 0.001: lab | histogram |\n|---|---|---|---|")
    for what in ("300 rounds of training", "Make p_g = p_data"):
        lab = Lab1D(target, LabSettings(seed=0))
        lab.train(300) if what.startswith("300") else lab.match_target()
        snap = lab.snapshot(record=False)
        edges = np.concatenate([lab.x - lab.dx / 2, [lab.x[-1] + lab.dx / 2]])
        counts, _ = np.histogram(samples(lab, 4_000_000), edges)
        hist = counts / (4_000_000 * lab.dx)
        seen = lab.p_data > 1e-3
        d_hist = lab.p_data / (lab.p_data + hist)
        print(f"| {what} | {np.abs(snap.p_g - hist).max() / snap.p_g.max():.4f} | "
              f"{np.nanmin(snap.d_star[seen]):.3f} to {np.nanmax(snap.d_star[seen]):.3f} | "
              f"{d_hist[seen].min():.3f} to {d_hist[seen].max():.3f} |")


if __name__ == "__main__":
    main()
