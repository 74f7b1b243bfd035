"""The one table of pair kinds (gan_core.data.paired.PAIR_KINDS): what every page and
command says about a kind, and what the engine does with it, come from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gan_core.config import DataConfig
from gan_core.data import load_data
from gan_core.data.paired import (
    DERIVED_KINDS, FROM_FILES, PAIR_KINDS, derive, derived_kind, source_channels,
)
from gan_core.errors import ConfigError


def test_every_kind_is_described_once_and_fully():
    assert list(PAIR_KINDS) == ["edges", "grey", "blur", "mask", FROM_FILES]
    for name, kind in PAIR_KINDS.items():
        assert kind.name == name
        for text in (kind.label, kind.note, kind.model_input, kind.turns, kind.already):
            assert text.strip() == text and text, (name, text)
        assert kind.note.endswith(".") and kind.model_input[0].isupper()
    assert len({k.label for k in PAIR_KINDS.values()}) == len(PAIR_KINDS)  # a menu tells them apart
    assert DERIVED_KINDS == ("edges", "grey", "blur", "mask") and not PAIR_KINDS[FROM_FILES].derived


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
    assert needs == ["grey"]
    with pytest.raises(ConfigError) as e:
        load_data(DataConfig(name="faces-lfw", pairs="grey", image_size=16, limit=2))  # grey faces
    assert "--pairs edges, blur or mask" in str(e.value) and "'faces-lfw' is grey" in str(e.value)
    assert load_data(DataConfig(name="faces-lfw", pairs="edges", image_size=16, limit=2)).source_channels == 1
