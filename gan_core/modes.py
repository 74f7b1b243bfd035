"""Mode coverage of a generator on a Gaussian mixture: the PacGAN protocol.

Lin et al. 2018 (PacGAN, section 5.1, after VEEGAN's set-up) score a generator on
``ring-8`` and ``grid-25`` from ``N_SAMPLES`` = 2,500 generated points:

- a sample is **high quality** when it lies within 3 standard deviations (3 sigma)
  of its nearest mode centre;
- a mode is **covered** when at least one high-quality sample is nearest to it;
- **reverse KL** is KL(p || u) in nats, where p is the histogram of the high-quality
  samples over the modes (each counted at its nearest mode) and u is uniform over all
  modes. It is 0 when every mode gets the same share and log K (K modes) when all
  high-quality samples sit on one mode. Modes with no sample add 0 (0 log 0 = 0),
  so it penalises the extra mass the covered modes carry, not the gap itself.

When no sample is high quality the histogram is undefined; ``reverse_kl`` is then
log K, the value of total collapse onto one mode and the largest any histogram can
score, so a run that has not yet found the modes plots as the worst case rather
than as a gap or a NaN.

Works in any dimension (``toy-1d`` gives (N, 1) points), on numpy arrays or torch
tensors, with no torch needed by the caller.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .config import DataKind
from .errors import DataError

N_SAMPLES = 2500  # generated samples per evaluation, as in PacGAN's Table 1
HQ_SIGMAS = 3.0  # a sample within this many sigma of its nearest mode is high quality


@dataclass(frozen=True)
class Coverage:
    modes: int  # modes covered
    total: int  # modes in the mixture
    high_quality: float  # fraction (0..1) of samples within 3 sigma of their nearest mode
    reverse_kl: float  # KL(histogram of high-quality samples over modes || uniform), natural log
    counts: tuple[int, ...]  # high-quality samples nearest each mode

    def describe(self) -> str:
        """One line, e.g. "25/25 modes, 96.1% high quality, reverse KL 0.012"."""
        return f"{self.modes}/{self.total} modes, {self.high_quality:.1%} high quality, reverse KL {self.kl_text()}"

    def kl_text(self) -> str:
        """The reverse KL as a reader should take it: with no high-quality sample there is
        no histogram to compare (``reverse_kl`` holds log K for the charts, not a collapse)."""
        return f"{self.reverse_kl:.3f}" if any(self.counts) else "undefined (no high-quality sample)"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["counts"] = list(self.counts)
        return d


def _as_array(x, what: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().float().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{what} must be an (N, D) array of points, not one of shape {tuple(arr.shape)}.")
    return arr


def coverage(points, centres, sigma: float) -> Coverage:
    """Score ``points`` (N, D) against the mixture with ``centres`` (K, D) and
    component standard deviation ``sigma``. Non-finite points count as samples that
    are not high quality."""
    pts, ctr = _as_array(points, "The points"), _as_array(centres, "The mode centres")
    if len(pts) == 0:
        raise DataError("There are no points to score; generate at least one sample.")
    if len(ctr) == 0:
        raise DataError("The mixture has no modes to score points against.")
    if pts.shape[1] != ctr.shape[1]:
        raise DataError(f"The points are {pts.shape[1]}-D but the modes are {ctr.shape[1]}-D; score samples of the data the generator was trained on.")
    if not (math.isfinite(sigma) and sigma > 0):
        raise DataError(f"sigma must be a positive standard deviation, not {sigma}.")
    finite = np.isfinite(pts).all(axis=1)
    safe = np.where(finite[:, None], pts, 0.0)
    dist2 = ((safe[:, None, :] - ctr[None, :, :]) ** 2).sum(axis=2)  # (N, K)
    nearest = dist2.argmin(axis=1)
    good = finite & (dist2[np.arange(len(pts)), nearest] <= (HQ_SIGMAS * sigma) ** 2)
    counts = np.bincount(nearest[good], minlength=len(ctr))
    return Coverage(
        modes=int((counts > 0).sum()),
        total=len(ctr),
        high_quality=float(good.mean()),
        reverse_kl=reverse_kl(counts),
        counts=tuple(int(c) for c in counts),
    )


def reverse_kl(counts) -> float:
    """KL(p || uniform) in nats for the histogram ``counts`` over K modes; log K
    when the histogram is empty (see the module's docstring)."""
    counts = np.asarray(counts, dtype=np.float64)
    k = len(counts)
    total = counts.sum()
    if total == 0:
        return math.log(k)
    p = counts[counts > 0] / total
    return max(0.0, float((p * np.log(p * k)).sum()))


def chance_modes(data_name: str, bounds, n: int = N_SAMPLES) -> float | None:
    """How many modes ``n`` points spread evenly over ``bounds`` ((x0, x1), (y0, y1)) would
    cover on average, by PacGAN's count: each mode whose 3-sigma disc (inside the view,
    apart from the others) receives at least one point. What a structureless cloud
    scores, beside which a loose cloud's count means little; None off a 2-D mixture."""
    from .data.toy import mode_centres, mode_sigma

    centres = mode_centres(data_name)
    if centres is None or np.asarray(centres).shape[1] != 2:
        return None
    (x0, x1), (y0, y1) = bounds
    share = math.pi * (HQ_SIGMAS * mode_sigma(data_name)) ** 2 / ((x1 - x0) * (y1 - y0))
    return float(len(centres) * (1.0 - (1.0 - min(share, 1.0)) ** n))


def coverage_for(data_name: str, points) -> Coverage | None:
    """``coverage`` against a built-in mixture source (ring-8, grid-25, toy-1d); None
    for sources without discrete modes (spiral, moons, images)."""
    from .data.toy import mode_centres, mode_sigma

    centres = mode_centres(data_name)
    if centres is None:
        return None
    return coverage(points, centres, mode_sigma(data_name))


def generator_coverage(gen, n: int = N_SAMPLES, seed: int = 0) -> Coverage:
    """Coverage of ``n`` samples of a loaded generator (``inference.load_generator``),
    drawn from noise ``seed``: the figures ``python -m gan_core evaluate`` prints."""
    from .inference import sample_tensor

    name = gen.config.data.name
    if gen.kind != DataKind.VECTOR:
        raise DataError(f"{gen.path.name} generates images; mode coverage scores points of ring-8, grid-25 or toy-1d.")
    result = coverage_for(name, sample_tensor(gen, n, seed))
    if result is None:
        raise DataError(f"{gen.path.name} was trained on {name!r}, which has no separate modes to count; "
                        "mode coverage scores ring-8, grid-25 and toy-1d.")
    return result


__all__ = ["N_SAMPLES", "Coverage", "chance_modes", "coverage", "coverage_for", "generator_coverage", "reverse_kl"]
