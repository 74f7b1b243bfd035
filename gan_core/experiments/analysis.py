"""What a comparison's runs show: the ends of their curves (D's loss as the Keras
article plots it), how close their samples are to the data, a table and a verdict."""

from __future__ import annotations

import math
from pathlib import Path

from ..config import DataKind
from ..runs import RunState, read_config, read_metrics, read_status
from .records import read_experiment

TAIL = 0.1  # the end of a run: its last 10% of logged rows


def _mean(values) -> float | None:
    values = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(values) / len(values) if values else None


def d_loss_as_article(row: dict) -> float | None:
    """D's loss as the Keras article plots it: the mean of the real and fake parts."""
    real, fake = row.get("loss_d_real"), row.get("loss_d_fake")
    return None if real is None or fake is None else 0.5 * (real + fake)


def curve_summary(rows: list[dict], tail: float = TAIL) -> dict:
    """Means over the last ``tail`` of the logged rows (a single row is noisy)."""
    end = rows[-max(1, int(round(len(rows) * tail))):] if rows else []
    out = {"d_loss_mean": _mean(d_loss_as_article(r) for r in end)}
    for key in ("loss_g", "d_real", "d_fake", "wasserstein"):
        out[key] = _mean(r.get(key) for r in end)
    return out


def nearest_ratios(real, fake) -> dict:
    """Nearest-neighbour distances between real items and samples (tensors of the same
    number of rows, any shape), each as a ratio to the distance from a real item to
    its nearest other real item (``real_to_real``, root mean square per coordinate):

    - ``fake_to_real``: median distance from a sample to its nearest real item.
      About 1: samples sit among the data as real items do; well above 1: off the
      data (noise, artefacts); well below 1: near-copies of training items.
    - ``real_to_fake``: median distance from a real item to its nearest sample.
      Well above 1: parts of the data no sample comes near (modes dropped, collapse)."""
    import torch

    real, fake = real.flatten(1).float(), fake.flatten(1).float()
    scale = math.sqrt(real.shape[1])
    real_real = torch.cdist(real, real)
    real_real.fill_diagonal_(math.inf)
    fake_real = torch.cdist(fake, real)
    reference = real_real.min(1).values.median().item() / scale
    return {
        "fake_to_real": fake_real.min(1).values.median().item() / scale / reference,
        "real_to_fake": fake_real.min(0).values.median().item() / scale / reference,
        "real_to_real": reference,
    }


def sample_distances(run_dir: str | Path, n: int = 2000, seed: int = 0) -> dict | None:
    """``nearest_ratios`` of the run's last weights against its training data, in the
    data's own space (pixels in [-1, 1], or the points), with as many samples as real
    items (up to ``n``), so both directions search sets of the same size. None when
    the run has no checkpoint or its data are not held in memory."""
    import torch

    from .. import inference
    from ..data import load_data

    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoints" / "last.safetensors"
    if not ckpt.is_file():
        return None
    data = load_data(read_config(run_dir).data)
    if data.tensors is None:
        return None
    real = data.tensors["real"]
    real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))[:n]]
    fake = inference.sample_tensor(inference.load_generator(ckpt), len(real), seed)
    return nearest_ratios(real, fake)


def mode_figures(run_dir: str | Path, seed: int = 0) -> dict | None:
    """For a run on a mixture with separate modes (ring-8, grid-25, toy-1d): the PacGAN
    protocol's figures (``gan_core.modes``) for its last weights; else None."""
    from .. import inference
    from ..modes import N_SAMPLES, coverage_for

    ckpt = Path(run_dir) / "checkpoints" / "last.safetensors"
    if not ckpt.is_file():
        return None
    gen = inference.load_generator(ckpt)
    if gen.kind != DataKind.VECTOR:
        return None
    found = coverage_for(gen.config.data.name, inference.sample_tensor(gen, N_SAMPLES, seed))
    if found is None:
        return None
    return {"modes": found.modes, "modes_total": found.total, "high_quality": found.high_quality, "reverse_kl": found.reverse_kl}


def summarise(run_dirs: list[str | Path], samples: bool = True) -> list[dict]:
    """One dict per run: variant, label, state, steps, seconds, the curves' ends
    (``curve_summary``) and, for runs with a checkpoint (``samples``), how its samples
    fare: mode coverage on a mixture with separate modes (``mode_figures``), else
    nearest-neighbour distances to the data (``sample_distances``)."""
    out = []
    for run_dir in map(Path, run_dirs):
        exp = read_experiment(run_dir) or {}
        status = read_status(run_dir)
        rows, _ = read_metrics(run_dir)
        entry = {"run": run_dir.name, "variant": exp.get("variant", run_dir.name), "label": exp.get("variant_label", run_dir.name),
                 "state": status.get("state"), "step": status.get("step"), "elapsed": status.get("elapsed"),
                 **curve_summary(rows)}
        if samples:
            entry.update(mode_figures(run_dir) or sample_distances(run_dir) or {})
        out.append(entry)
    return out


def _fmt(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


# (key, header, how to show it): a column is shown when some run has a value for it.
COLUMNS = (
    ("d_loss_mean", "D loss: mean of real and fake", lambda s: _fmt(s.get("d_loss_mean"))),
    ("wasserstein", "critic's W1 estimate", lambda s: _fmt(s.get("wasserstein"))),
    ("loss_g", "G loss", lambda s: _fmt(s.get("loss_g"))),
    ("d_real", "D(x)", lambda s: _fmt(s.get("d_real"))),
    ("d_fake", "D(G(z))", lambda s: _fmt(s.get("d_fake"))),
    ("modes", "modes covered", lambda s: "n/a" if s.get("modes") is None else f"{s['modes']}/{s['modes_total']}"),
    ("high_quality", "high quality", lambda s: "n/a" if s.get("high_quality") is None else f"{s['high_quality']:.1%}"),
    ("reverse_kl", "reverse KL", lambda s: _fmt(s.get("reverse_kl"))),
    ("fake_to_real", "sample → nearest real", lambda s: _fmt(s.get("fake_to_real"), ".2f")),
    ("real_to_fake", "real → nearest sample", lambda s: _fmt(s.get("real_to_fake"), ".2f")),
)


def summary_table(summary: list[dict]) -> str:
    """The summary as a Markdown table (for docs/BENCHMARKS.md and the terminal); the
    curve columns are means over the last 10% of logged steps."""
    shown = [c for c in COLUMNS if any(s.get(c[0]) is not None for s in summary)]
    head = "| run | state | steps | time | " + " | ".join(header for _, header, _ in shown) + " |"
    lines = [head, "|" + "---|" * (4 + len(shown))]
    for s in summary:
        minutes = f"{s['elapsed'] / 60:.1f} min" if s.get("elapsed") else "n/a"
        lines.append(f"| {s['label']} | {s['state']} | {s['step']} | {minutes} | " + " | ".join(show(s) for _, _, show in shown) + " |")
    return "\n".join(lines)


def verdict(summary: list[dict]) -> list[str]:
    """What the figures say, as sentences: runs that did not finish, runs whose D won
    outright, and which run's samples cover the modes best (points) or sit closest
    to the data and cover it best (images). The figures decide; the words only read
    them out."""
    words = []
    for s in summary:
        if s["state"] != RunState.FINISHED:
            words.append(f"{s['label']} did not finish ({s['state']} at step {s['step']}).")
        elif s.get("d_real") is not None and s.get("d_fake") is not None and s["d_real"] > 0.95 and s["d_fake"] < 0.05:
            words.append(f"{s['label']}: D won outright (D(x) {s['d_real']:.2f}, D(G(z)) {s['d_fake']:.2f} at the end), "
                         "so G was left without a useful gradient.")
    finished = [s for s in summary if s["state"] == RunState.FINISHED]
    with_modes = [s for s in finished if s.get("modes") is not None]
    if with_modes:
        best = max(with_modes, key=lambda s: (s["modes"], -s["reverse_kl"], s["high_quality"]))
        words.append(f"Most modes covered: {best['label']} ({best['modes']}/{best['modes_total']} modes, "
                     f"{best['high_quality']:.1%} of samples high quality, reverse KL {best['reverse_kl']:.3f}; PacGAN's protocol).")
    scored = [s for s in finished if s.get("fake_to_real") is not None]
    if scored:
        # Both ratios near 1 is the goal; the one further from 1 (on a log scale) decides.
        best = min(scored, key=lambda s: max(abs(math.log(s["fake_to_real"])), abs(math.log(s["real_to_fake"]))))
        words.append(f"Samples closest to the data and covering it best: {best['label']} (a sample's nearest real item is "
                     f"{best['fake_to_real']:.2f}x, a real item's nearest sample {best['real_to_fake']:.2f}x, the distance "
                     "between real neighbours).")
        for s in scored:
            if s["fake_to_real"] < 0.5:
                words.append(f"{s['label']}: its samples are unusually close to training items ({s['fake_to_real']:.2f}x): "
                             "look for copies of them.")
    return words
