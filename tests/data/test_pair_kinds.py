"""The one table of pair kinds (gan_core.data.paired.PAIR_KINDS): what every page and
command says about a kind, and what the engine does with it, come from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gan_core.config import DataConfig
from gan_core.data import load_data
from gan_core.data.paired import (
    DERIVED_KINDS, FROM_FILES, PAIR_KINDS, derive, derived_kind, source_channels,
)
from gan_core.errors import ConfigError


def test_every_kind_is_described_once_and_fully():
    assert list(PAIR_KINDS) == ["edges", "grey", "blur", "mask", "sr4", "lab", FROM_FILES]
    for name, kind in PAIR_KINDS.items():
        assert kind.name == name
        for text in (kind.label, kind.note, kind.model_input, kind.turns, kind.already):
            assert text.strip() == text and text, (name, text)
        assert kind.note.endswith(".") and kind.model_input[0].isupper()
    assert len({k.label for k in PAIR_KINDS.values()}) == len(PAIR_KINDS)  # a menu tells them apart
    assert DERIVED_KINDS == ("edges", "grey", "blur", "mask", "sr4", "lab") and not PAIR_KINDS[FROM_FILES].derived


def test_the_config_offers_exactly_the_derived_kinds():
    # config.py cannot import the data package (which imports it), so it lists the names
    # itself; this holds the two lists equal.
    (field,) = [f for f in dataclasses.fields(DataConfig) if f.name == "pairs"]
    assert tuple(field.metadata["choices"]) == DERIVED_KINDS


@pytest.mark.parametrize("name", DERIVED_KINDS)
def test_the_source_channels_are_the_derivations(name):
    colour = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    assert derive(name, colour).shape[2] == source_channels(name, 3)
    assert (source_channels(name, 3) == 1) == PAIR_KINDS[name].grey_source


def test_pairs_from_files_keep_the_targets_channels():
    assert source_channels(FROM_FILES, 3) == source_channels(None, 3) == 3
    assert source_channels("a kind of a newer version", 3) == 3  # a checkpoint's unknown kind is not a crash


def test_an_unknown_kind_is_refused_naming_the_others():
    for name in ("sketch", FROM_FILES):
        with pytest.raises(ConfigError) as e:
            derived_kind(name)
        message = str(e.value)
        assert name in message and "edges, grey, blur, mask" in message and message.endswith(".") and "\n" not in message
        with pytest.raises(ConfigError):
            derive(name, np.zeros((8, 8, 3), np.uint8))


def test_a_kind_that_needs_colour_refuses_grey_data_and_names_the_alternatives():
    needs = [k for k in DERIVED_KINDS if PAIR_KINDS[k].needs_colour]
    assert needs == ["grey", "lab"]
    with pytest.raises(ConfigError) as e:
        load_data(DataConfig(name="faces-lfw", pairs="grey", image_size=16, limit=2))  # grey faces
    assert "--pairs edges, blur, mask or sr4" in str(e.value) and "'faces-lfw' is grey" in str(e.value)
    assert load_data(DataConfig(name="faces-lfw", pairs="edges", image_size=16, limit=2)).source_channels == 1


def test_sr4_sources_are_the_picture_shrunk_by_4_and_enlarged_back():
    """The super-resolution kind: same size and channels as the picture, equal to a
    bicubic 4x shrink and 4x enlargement, smooth where the picture is not (its finest
    detail is gone) and nearly unchanged where the picture is already smooth."""
    from gan_core.data.paired import bicubic_resize, enlarge_factor

    kind = PAIR_KINDS["sr4"]
    assert kind.derived and kind.residual and kind.enlarge == 4 and enlarge_factor("sr4") == 4
    assert enlarge_factor("grey") == enlarge_factor(None) == enlarge_factor(FROM_FILES) == 1
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)  # detail at the finest scale
    src = derive("sr4", noise)
    assert src.shape == noise.shape and src.dtype == np.uint8
    assert np.array_equal(src, bicubic_resize(bicubic_resize(noise, 13, 10), 52, 40))
    assert src.std() < 0.4 * noise.std()  # the detail is gone
    y, x = np.mgrid[0:40, 0:52]
    smooth = np.stack([(x * 4), (y * 5), (x + y) * 2], axis=2).clip(0, 255).astype(np.uint8)
    inner = (slice(8, -8), slice(8, -8))  # a ramp survives away from the borders
    assert np.abs(derive("sr4", smooth)[inner].astype(int) - smooth[inner]).mean() < 2.0
    grey = derive("sr4", noise[..., :1])
    assert grey.shape == (40, 52, 1)


def test_sr4_pairs_load_with_colour_sources_and_a_residual_generator():
    from gan_core.recipes import RECIPES, resolve
    from conftest import tiny

    data = load_data(DataConfig(name="photos", pairs="sr4", image_size=16, limit=4))
    batch = data.center({k: torch.stack([data.item(i)[k] for i in range(2)]) for k in ("source", "target")})
    assert data.source_channels == 3 and batch["source"].shape == batch["target"].shape == (2, 3, 16, 16)
    assert not torch.equal(batch["source"], batch["target"])
    cfg = resolve(tiny("pix2pix", "photos", **{"data.pairs": "sr4", "data.limit": 4}))
    G, _ = RECIPES.get("pix2pix").build(cfg, data)
    assert G.residual
    x = torch.rand(1, 3, 32, 48) * 2 - 1
    with torch.no_grad():
        for p in G.up[0].parameters():
            p.zero_()  # no correction: a residual generator then gives its input back
        G.eval()
        assert torch.allclose(G(x), x)
    grey, _ = RECIPES.get("pix2pix").build(resolve(tiny("pix2pix", "photos", **{"data.pairs": "grey"})), data)
    assert not grey.residual
