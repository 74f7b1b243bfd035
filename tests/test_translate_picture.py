"""gan_core.translate.translate_picture: one picture translated as the Pix2Pix page and
``python -m gan_core translate`` both do it: A|B pairs split by the model's direction,
the "as trained" scale and the others, the derived input, the error against the target
and the realism map; and parse_scale, which reads a scale as a person writes it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import BLUE, RED, ab_pair, generator_only, smooth_photo, tiny
from PIL import Image

from gan_core import translate as T
from gan_core.data.paired import derive
from gan_core.errors import CheckpointError, ConfigError, DataError
from gan_core.recipes import resolve
from gan_core.runs import create_run
from gan_core.training import train



def one_sentence(excinfo, *mentions: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message.endswith(".") and "Traceback" not in message, message
    for m in mentions:
        assert m in message, f"{m!r} not in {message!r}"
    return message


photo = smooth_photo


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny translators (16 px crops, 2 steps): grey -> colour on photos, edges -> grey
    faces, pairs from disk both ways, and the grey one saved without its discriminator."""
    root = tmp_path_factory.mktemp("translate-picture")
    pairs = root / "pairs"
    pairs.mkdir()
    for i in range(4):
        Image.fromarray(ab_pair(left=(200, 20 * i, 0), right=(0, 20 * i, 200))).save(pairs / f"{i}.png")
    out = {}
    for name, cfg in (("grey", tiny("pix2pix", "photos", **{"data.pairs": "grey", "data.limit": 16})),
                      ("edges", tiny("pix2pix", "faces-lfw", **{"data.pairs": "edges", "data.limit": 16})),
                      ("atob", tiny("pix2pix", "paired", **{"data.path": str(pairs)})),
                      ("btoa", tiny("pix2pix", "paired", **{"data.path": str(pairs), "data.direction": "BtoA"}))):
        cfg = resolve(cfg)
        run_dir = create_run(cfg, root / "runs")
        assert train(cfg, run_dir)["state"] == "finished"
        out[name] = T.load_translator(run_dir / "checkpoints" / "last.safetensors")
    out["no-d"] = T.load_translator(generator_only(out["grey"].path, root / "g-only.safetensors"))
    return out


class _Identity(torch.nn.Module):
    """A "generator" that gives its source back, so the error is known in advance."""

    depth = 2

    def forward(self, x):
        return x


def identity_of(tr: T.Translator) -> T.Translator:
    return T.Translator(dataclasses.replace(tr.gen, model=_Identity()), tr.discriminator)


# ----------------------------------------------------------------------------- A|B pairs


@pytest.mark.parametrize("direction, source, target", [("atob", RED, BLUE), ("btoa", BLUE, RED)])
def test_a_pair_is_split_by_the_models_direction(models, direction, source, target):
    tr = models[direction]
    t = T.translate_picture(tr, ab_pair(30, 40), pair=True, scale="full")
    assert t.picture.shape == t.target.shape == t.output.shape == (30, 40, 3)
    assert (t.picture == source).all() and (t.target == target).all()
    assert not t.derived and np.array_equal(t.source, t.picture)  # a pair's source half is taken as it is
    assert t.size == (40, 30) and t.work_size is None


def test_a_picture_too_narrow_to_be_a_pair_is_refused_in_one_sentence(models):
    with pytest.raises(DataError) as e:
        T.translate_picture(models["atob"], photo(10, 12), pair=True)
    one_sentence(e, "A|B pair", "side by side", "this one is only 12 x 10 pixels")
    with pytest.raises(DataError) as e:
        T.translate_picture(models["atob"], photo(10, 12), pair=True, name="scan.png")
    one_sentence(e, "scan.png is only 12 x 10 pixels")


def test_the_error_is_the_mean_absolute_difference_from_the_target(models):
    tr = identity_of(models["atob"])  # output == source half, exactly
    same = T.translate_picture(tr, ab_pair(left=RED, right=RED), pair=True, scale=1.0)
    assert np.array_equal(same.output, same.picture) and same.mean_error == 0
    opposite = T.translate_picture(tr, ab_pair(left=(0, 0, 0), right=(255, 255, 255)), pair=True, scale=1.0)
    assert opposite.error.shape == (24, 24) and np.allclose(opposite.error, 1.0)
    half = T.translate_picture(tr, ab_pair(left=(0, 0, 0), right=(255, 0, 51)), pair=True, scale=1.0)
    assert half.mean_error == pytest.approx((255 + 0 + 51) / 3 / 255)

    real = T.translate_picture(models["atob"], ab_pair(), pair=True, scale=1.0)  # a trained model's error, computed alike
    expected = np.abs(real.output.astype(int) - real.target.astype(int)).mean() / 255
    assert 0 < real.mean_error <= 1 and real.mean_error == pytest.approx(expected, rel=1e-5)


# ----------------------------------------------------------------------------- scales


def test_every_scale_gives_the_pictures_size_back(models):
    tr = models["grey"]
    picture = photo(60, 90)
    # "as trained" on photos: a short side of 3 crops of 16 px (the photos source tiles at 2, 3 and 4 crops).
    assert T.training_scale(tr, 90, 60) == pytest.approx(48 / 60)
    expected_work = {T.AS_TRAINED: (72, 48), 1.0: None, 0.5: (45, 30), 0.25: (22, 15), 0.125: (11, 8)}
    assert set(expected_work) == set(T.SCALES) and T.SCALES[0] == T.AS_TRAINED  # the default comes first
    for scale in T.SCALES:
        t = T.translate_picture(tr, picture, scale=scale)
        assert t.output.shape == (60, 90, 3) and t.source.shape == (60, 90, 1) and t.error.shape == (60, 90), scale
        assert t.work_size == expected_work[scale], scale
    default = T.translate_picture(tr, picture)
    assert default.work_size == (72, 48)
    assert np.array_equal(T.translate_picture(tr, picture, scale="as-trained").output, default.output)
    assert T.translate_picture(tr, picture, scale="full").work_size is None


def test_a_picture_smaller_than_the_training_pictures_is_not_enlarged(models):
    assert T.translate_picture(models["grey"], photo(20, 30)).work_size is None  # as trained never scales up


@pytest.mark.parametrize("text, expected", [("as-trained", T.AS_TRAINED), ("As Trained", T.AS_TRAINED), ("full", 1.0),
                                            ("0.5", 0.5), (" 0.25 ", 0.25), ("4", 4.0), (0.125, 0.125)])
def test_scales_are_read_as_people_write_them(text, expected):
    assert T.parse_scale(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "4.5", "nan", "inf", "half", ""])
def test_a_scale_that_makes_no_sense_is_refused_in_one_sentence(models, text):
    with pytest.raises(ConfigError) as e:
        T.parse_scale(text)
    one_sentence(e, "as-trained", "at most 4")
    with pytest.raises(ConfigError):
        T.translate_picture(models["grey"], photo(20, 20), scale=text)


# ----------------------------------------------------------------------------- derived inputs


def test_the_model_is_given_the_derived_input_and_the_picture_is_the_target(models):
    picture = photo(50, 70)
    edges = T.translate_picture(models["edges"], picture, scale=1.0)
    grey = T.as_channels(picture, 1)  # this model's targets are grey faces
    assert edges.derived and np.array_equal(edges.source, derive("edges", grey))
    assert edges.output.shape == (50, 70, 1) and np.array_equal(edges.target, grey)
    assert edges.mean_error == pytest.approx(np.abs(edges.output.astype(int) - grey.astype(int)).mean() / 255, rel=1e-5)

    colour = T.translate_picture(models["grey"], picture, scale=0.5)
    assert colour.derived and colour.source.shape == (50, 70, 1) and colour.output.shape == (50, 70, 3)
    assert np.array_equal(colour.target, picture) and colour.error.shape == (50, 70)


def test_a_picture_that_already_is_a_source_is_taken_as_it_is(models):
    drawn = np.full((40, 40, 1), 255, np.uint8)
    drawn[20] = 0  # a hand-drawn line
    t = T.translate_picture(models["edges"], drawn, derive=False, scale=1.0)
    assert not t.derived and np.array_equal(t.source, drawn)
    assert t.target is None and t.error is None and t.mean_error is None  # a drawing has no photo to compare with


def test_a_grey_picture_is_no_target_for_a_colour_model(models):
    t = T.translate_picture(models["grey"], photo(30, 30)[..., :1], scale=1.0)
    assert t.derived and t.output.shape == (30, 30, 3) and t.target is None and t.error is None


# ----------------------------------------------------------------------------- realism map


def test_the_realism_map_comes_from_the_discriminator_when_asked(models):
    tr = models["grey"]
    picture = photo(48, 64)
    without = T.translate_picture(tr, picture, scale=1.0)
    assert without.realism is None and without.mean_realism is None
    t = T.translate_picture(tr, picture, scale=1.0, realism=True)
    assert t.realism.shape == (48, 64) and t.realism.dtype == np.float32 and 0 <= t.realism.min() <= t.realism.max() <= 1
    assert np.array_equal(t.realism, T.realism_map(tr, t.source, t.output))  # the verdict on this output, from this input
    assert 0 <= t.mean_realism <= 1
    overlay = T.realism_overlay(t.realism, t.output)
    assert overlay.shape == (48, 64, 3) and overlay.dtype == np.uint8


def test_a_checkpoint_without_a_discriminator_has_no_realism_map(models):
    tr = models["no-d"]
    assert T.translate_picture(tr, photo(20, 20)).realism is None  # it still translates
    with pytest.raises(CheckpointError) as e:
        T.translate_picture(tr, photo(20, 20), realism=True)
    one_sentence(e, "g-only.safetensors", "no discriminator")
