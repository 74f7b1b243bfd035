"""Writing generated samples to disk: image grids, and scatter plots for toy points."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import make_grid

from .pictures import png_bytes
from .runs import atomic_write_bytes


def grid_array(images: torch.Tensor, nrow: int | None = None) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> an (H', W', 3) uint8 grid."""
    nrow = nrow or max(1, int(math.ceil(math.sqrt(len(images)))))
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=2, normalize=True, value_range=(-1, 1), pad_value=1.0)
    return (grid.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8; grey stays one channel."""
    arr = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return arr.permute(0, 2, 3, 1).numpy()


def points_png(points: np.ndarray, real: np.ndarray | None = None, title: str = "") -> bytes:
    """A scatter (2-D) or histogram (1-D) of generated points over the real ones."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.subplots()
    if points.shape[1] == 1:
        bins = np.linspace(min(points.min(), real.min() if real is not None else 0) - 0.5,
                           max(points.max(), real.max() if real is not None else 0) + 0.5, 80)
        if real is not None:
            ax.hist(real[:, 0], bins=bins, density=True, alpha=0.4, color="grey", label="real")
        ax.hist(points[:, 0], bins=bins, density=True, alpha=0.6, color="tab:orange", label="generated")
        ax.legend(loc="upper right")
    else:
        if real is not None:
            ax.scatter(real[:, 0], real[:, 1], s=2, c="lightgrey", label="real")
        ax.scatter(points[:, 0], points[:, 1], s=3, c="tab:orange", label="generated")
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def save_samples(fake: torch.Tensor, path: Path, real_points: np.ndarray | None = None, title: str = "",
                 nrow: int | None = None) -> None:
    """Images -> a PNG grid (``nrow`` per row: a conditional grid has one row per
    class); points -> a PNG plot plus the raw points as .npy for dashboards."""
    if fake.dim() == 4:
        atomic_write_bytes(path, png_bytes(grid_array(fake, nrow)))
    else:
        points = fake.detach().float().cpu().numpy()
        buf = io.BytesIO()
        np.save(buf, points)
        atomic_write_bytes(path.with_suffix(".npy"), buf.getvalue())
        atomic_write_bytes(path, points_png(points, real_points, title))
