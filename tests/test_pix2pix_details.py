"""Pix2Pix details of issue #19: where dropout sits below 256 px (said in the model's
docstring, against the reference's rule), ``--norm instance`` on the command line and
through to translation, and the eval-mode realism map, whose verdict matches training's
normalisation with instance norm and not with batch norm (README says which to use)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_core import translate
from gan_core.cli import main
from gan_core.models import pix2pix
from gan_core.models.pix2pix import PatchDiscriminator, UNetGenerator

ROOT = Path(__file__).resolve().parent.parent


def dropout_levels(G: UNetGenerator) -> list[int]:
    return [i for i, block in enumerate(G.up) if any(isinstance(m, nn.Dropout) for m in block.modules())]


@pytest.mark.parametrize("size", [16, 32, 64, 128, 256])
def test_the_docstring_says_where_dropout_sits_here_and_in_the_reference(size):
    """The docstring claimed this model's two dropout blocks at 32 px were the reference's;
    the reference's rule (levels 4 to depth - 2) gives none there."""
    G = UNetGenerator(3, 3, size, width=2)
    depth = G.depth
    reference = list(range(4, depth - 1))
    here = ", ".join(map(str, dropout_levels(G))) or "none"
    theirs = ", ".join(map(str, reference)) or "none"
    row = re.compile(rf"^\s+{size} px\s+{depth}\s+{re.escape(here)}\s+{re.escape(theirs)}\s*$", re.M)
    assert row.search(pix2pix.__doc__), (size, here, theirs)
    if size == 256:
        assert dropout_levels(G) == reference  # the reference's unet_256


def test_norm_instance_on_the_command_line_trains_and_translates_with_instance_norm(tmp_path, capsys):
    args = ["train", "--recipe", "pix2pix", "--data", "faces-lfw", "--pairs", "edges", "--limit", "16", "--image-size", "16",
            "--width", "4", "--norm", "instance", "--batch-size", "2", "--steps", "2", "--augment", "none",
            "--runs-dir", str(tmp_path), "--no-progress", "--device", "cpu"]
    assert main(args) == 0
    (run_dir,) = tmp_path.iterdir()
    tr = translate.load_translator(run_dir / "checkpoints" / "last.safetensors")
    assert tr.gen.config.model.norm == "instance"
    for model in (tr.gen.model, tr.discriminator):
        kinds = {type(m) for m in model.modules()}
        assert nn.InstanceNorm2d in kinds and nn.BatchNorm2d not in kinds
    capsys.readouterr()
    assert main(["train", "--recipe", "dcgan", "--data", "faces-lfw", "--norm", "instance", "--steps", "1",
                 "--runs-dir", str(tmp_path / "dcgan")]) == 2
    err = capsys.readouterr().err
    assert "--norm chooses pix2pix's normalisation" in err and err.count("\n") == 1


@pytest.mark.parametrize("norm, same", [("instance", True), ("batch", False)])
def test_the_realism_map_in_eval_mode_matches_training_only_with_instance_norm(norm, same):
    torch.manual_seed(0)
    D = PatchDiscriminator(1, 3, 32, width=8, norm=norm)
    for m in D.modules():  # running statistics away from one picture's own, as after training on others
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    source, image = torch.rand(1, 1, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        evaluated = D.eval()(source, image)
        trained = D.train()(source, image)
    assert torch.allclose(evaluated, trained, atol=1e-6) is same


def test_readme_says_how_pix2pix_normalises_at_translation_and_what_to_train_at_batch_1_2():
    readme = (ROOT / "README.md").read_text()
    assert "--norm instance" in readme
    assert re.search(r"realism map[^.]*eval mode", readme), "the realism map's eval mode is not stated"
    assert re.search(r"batch 1.2[^.]*running statistics", readme) or re.search(r"running statistics[^.]*batch 1.2", readme)
