"""Quick starts: runs short enough to watch a GAN learn in about a minute on a CPU.

Each preset is a config left unresolved: the recipe's own defaults fill in the rest,
so a preset never goes stale when a recipe's defaults change. The Train page
fills its form from them (and shows the measured duration before Start); the
command line takes the same values (``command``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config, command_line


@dataclass(frozen=True)
class Preset:
    key: str
    label: str  # the button
    what: str  # what to watch for, shown once the form is filled
    config: Config
    early: str = ""  # what a run stopped after its first few hundred steps shows (a demo's cap)


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset(
        "ring", "A ring of 8 points (2-D)",
        "The original GAN on 8 small Gaussian blobs on a circle. The generated points start as one blur in the middle, "
        "then stretch out and split until they sit on the blobs; a blob no point reaches is a mode the generator dropped.",
        Config(recipe="gan").replace(**{"data.name": "ring-8", "train.steps": 2000}),
        "a loose cloud of points that has not yet split onto the blobs",
    ),
    Preset(
        "digits", "Handwritten digits",
        "The original GAN's MLPs (as in the Keras article) on 5,000 MNIST digits, 28 × 28 grey. The grid turns from "
        "grey noise into blurred strokes, then into digits; a row of near-identical digits is mode collapse.",
        Config(recipe="gan").replace(**{"data.name": "mnist-5k", "data.image_size": 28, "train.steps": 1500}),
        "noisy grey blobs, before any stroke or digit",
    ),
)}


def capped_note(key: str, max_steps: int | None) -> str | None:
    """What a server that stops runs at ``max_steps`` (a demo, or an operator's lower cap) lets
    the preset show, in one sentence, when that is fewer steps than the preset needs; else None."""
    preset = PRESETS[key]
    steps = preset.config.train.steps
    if max_steps is None or steps <= max_steps:
        return None
    return (f"This server stops runs at {max_steps:,} of the {steps:,} steps this needs, so expect {preset.early}; "
            f"on your own machine `{command(key)}` trains it in full.")


def command(key: str) -> str:
    """The preset as a command line."""
    return command_line(PRESETS[key].config)


__all__ = ["Preset", "PRESETS", "command", "capped_note"]
