"""One picture of a comparison: per run, its curves above its last sample grid."""

from __future__ import annotations

import io
import math
from pathlib import Path

from ..errors import RunError
from ..runs import read_metrics, read_sample, sample_images
from .analysis import d_loss_as_article
from .records import read_experiment


def comparison_figure(run_dirs: list[str | Path], out: str | Path, title: str = "") -> Path:
    """One PNG: per run, its curves (D's loss as the article plots it, the mean of
    real and fake, or a WGAN's critic estimate, and G's loss, raw and smoothed) above
    its last sample grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    run_dirs = [Path(d) for d in run_dirs]
    fig, axes = plt.subplots(2, len(run_dirs), figsize=(4.6 * len(run_dirs), 8.6), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 1.25]})
    shown: list[float] = []  # every value drawn, for one y range over all runs
    for col, run_dir in enumerate(run_dirs):
        exp = read_experiment(run_dir) or {}
        rows, _ = read_metrics(run_dir)
        ax = axes[0][col]
        d_key = "D loss: mean of real and fake" if any("loss_d_real" in r for r in rows) else "Wasserstein estimate"
        for name, values in ((d_key, [d_loss_as_article(r) if "loss_d_real" in r else r.get("wasserstein") for r in rows]),
                             ("G loss", [r.get("loss_g") for r in rows])):
            pairs = [(r["step"], v) for r, v in zip(rows, values) if v is not None and math.isfinite(v)]
            if not pairs:
                continue
            steps, ys = zip(*pairs)
            shown.extend(ys)
            every = max(1, len(steps) // 1500)  # the faint raw curve, thinned: the file stays small
            line = ax.plot(steps[::every], ys[::every], linewidth=0.6, alpha=0.3)[0]
            smooth, last = [], 0.0
            for n, y in enumerate(ys, 1):  # TensorBoard's debiased moving average, for the trend
                last = 0.97 * last + 0.03 * y
                smooth.append(last / (1 - 0.97**n))
            ax.plot(steps, smooth, color=line.get_color(), linewidth=1.8, label=name)
        if d_key.startswith("D loss"):
            ax.axhline(math.log(2), color="grey", linestyle=":", linewidth=1.2, label="log 2 (D = ½)")
        ax.set_title(exp.get("variant_label", run_dir.name), fontsize=11)
        ax.set_xlabel("step")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(alpha=0.3)
        grids = sample_images(run_dir)
        axes[1][col].axis("off")
        if grids:
            step, path = grids[-1]
            try:
                png = read_sample(path)  # a regular PNG, or one sentence (a FIFO named like a grid would block imread)
            except RunError as e:
                axes[1][col].set_title(str(e), fontsize=7, wrap=True)
            else:
                axes[1][col].imshow(imread(io.BytesIO(png), format="png"))
                axes[1][col].set_title(f"samples at step {step:,}", fontsize=10)
    if shown:  # the same scale for every run, so the curves compare at a glance; rare spikes may leave it
        shown.sort()
        low, high = shown[int(0.005 * (len(shown) - 1))], shown[int(0.995 * (len(shown) - 1))]
        pad = 0.05 * (high - low or 1.0)
        for ax in axes[0]:
            ax.set_ylim(min(low, 0.0) - pad, high + pad)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    from PIL import Image

    with Image.open(out) as img:  # 256 colours are plenty for curves and sample grids, at a quarter of the size
        img.convert("RGB").quantize(256).save(out, optimize=True)
    return out
