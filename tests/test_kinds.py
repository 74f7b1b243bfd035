"""Types instead of strings: a data source's kind is a DataKind, and "is a WGAN" is one
question asked of a resolved config (``Config.wasserstein``)."""

from __future__ import annotations

import json

import pytest
import torch

from gan_core.config import Config, DataKind
from gan_core.data import SOURCES
from gan_core.data.base import GanData
from gan_core.errors import ConfigError
from gan_core.recipes import resolve


def test_every_source_has_a_data_kind_that_is_still_its_text():
    kinds = {name: source.kind for name, source in SOURCES.items()}
    assert all(isinstance(k, DataKind) for k in kinds.values()), kinds
    assert kinds["ring-8"] is DataKind.VECTOR and kinds["mnist-5k"] is DataKind.IMAGE
    assert kinds["ring-8"] == "vector" and json.dumps(kinds["mnist-5k"]) == '"image"'  # checkpoints keep plain text


def test_gan_data_holds_a_data_kind_and_refuses_any_other():
    data = GanData("points", "vector", (2,), tensors={"real": torch.zeros(4, 2)})
    assert data.kind is DataKind.VECTOR and data.info().kind == "vector"
    with pytest.raises(ValueError):
        GanData("points", "sound", (2,), tensors={"real": torch.zeros(4, 2)})


@pytest.mark.parametrize("recipe, changes, wasserstein", [
    ("gan", {}, False),
    ("gan", {"loss.g_loss": "minimax"}, False),
    ("wgan", {}, True),  # the recipe's own loss, filled in by resolve
    ("wgan-gp", {}, True),
    ("cgan", {"data.name": "mnist-5k"}, False),
    ("cgan", {"data.name": "mnist-5k", "loss.g_loss": "wasserstein"}, True),  # any loss: a WGAN-GP critic
])
def test_a_resolved_config_says_whether_it_is_a_wgan(recipe, changes, wasserstein):
    cfg = resolve(Config(recipe=recipe).replace(**{"data.name": "ring-8", **changes}))
    assert cfg.wasserstein is wasserstein and cfg.loss.wasserstein is wasserstein


def test_the_wasserstein_loss_without_a_critic_is_still_refused():
    with pytest.raises(ConfigError, match="needs a critic"):
        resolve(Config(recipe="gan").replace(**{"data.name": "ring-8", "loss.g_loss": "wasserstein"}))
    with pytest.raises(ConfigError, match="trains with the Wasserstein loss"):
        resolve(Config(recipe="wgan").replace(**{"data.name": "ring-8", "loss.g_loss": "minimax"}))


def test_wasserstein_is_not_a_config_field():
    # A property: config.json and the command line's flags are unchanged.
    assert "wasserstein" not in json.loads(Config().to_json())["loss"]
