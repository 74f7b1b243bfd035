import json

import pytest

from gan_core.config import Config
from gan_core.errors import ConfigError
from gan_core.recipes import resolve


def test_round_trip_through_json():
    cfg = resolve(Config(recipe="wgan").replace(**{"train.steps": 7, "data.name": "ring-8"}))
    again = Config.from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    assert again.optim.optimizer == "rmsprop" and again.loss.d_steps == 5 and again.loss.clip == 0.01


@pytest.mark.parametrize("recipe, expect", [
    ("gan", {"optimizer": "adam", "g_loss": "non-saturating", "arch": "mlp"}),
    ("dcgan", {"optimizer": "adam", "beta1": 0.5, "arch": "conv", "width": 32}),
    ("wgan", {"optimizer": "rmsprop", "lr_d": 5e-5, "d_steps": 5, "clip": 0.01}),
    ("wgan-gp", {"optimizer": "adam", "beta1": 0.0, "beta2": 0.9, "gp_weight": 10.0, "d_steps": 5}),
])
def test_recipe_defaults(recipe, expect):
    cfg = resolve(Config(recipe=recipe))
    flat = {**vars(cfg.optim), **vars(cfg.loss), **vars(cfg.model)}
    for key, value in expect.items():
        assert flat[key] == value, key


def test_user_values_win_over_recipe_defaults():
    cfg = resolve(Config(recipe="wgan").replace(**{"loss.d_steps": 2, "optim.lr_d": 1e-3}))
    assert cfg.loss.d_steps == 2 and cfg.optim.lr_d == 1e-3


@pytest.mark.parametrize("data, match", [
    ({"train": {"steps": "ten"}}, "'train.steps' must be an integer"),
    ({"train": {"stepz": 3}}, "Unknown config field 'train.stepz'"),
    ({"optim": {"lr_g": True}}, "'optim.lr_g' must be a number"),
    ({"model": {"arch": "transformer"}}, "must be one of mlp, conv"),
    ({"train": 5}, "section 'train' must be an object"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_config_values_are_one_sentence(data, match):
    with pytest.raises(ConfigError, match=match) as e:
        Config.from_dict(data)
    assert "\n" not in str(e.value)


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(ConfigError) as e:
        resolve(Config(recipe="stylegan9"))
    for name in ("gan", "dcgan", "wgan", "wgan-gp"):
        assert name in str(e.value)


@pytest.mark.parametrize("changes, match", [
    ({"recipe": "dcgan", "data.name": "ring-8"}, "cannot train on 'ring-8'"),
    ({"recipe": "dcgan", "data.image_size": 25}, "--image-size 16, 32, 64"),
    ({"recipe": "wgan", "loss.g_loss": "minimax"}, "Wasserstein loss"),
    ({"recipe": "gan", "loss.g_loss": "wasserstein"}, "needs a critic"),
    ({"recipe": "gan", "train.steps": 0}, "--steps must be at least 1"),
    ({"recipe": "gan", "optim.lr_g": -1.0}, "--lr-g must be a positive"),
])
def test_incompatible_settings_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        resolve(Config().replace(**changes))


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Config.from_json_file(bad)
    with pytest.raises(ConfigError, match="cannot be read"):
        Config.from_json_file(tmp_path / "missing.json")


def test_command_line_names_only_what_differs_from_the_plain_defaults():
    from gan_core.config import command_line, torchrun_command

    assert command_line(Config()) == "python -m gan_core train"
    cfg = Config().replace(**{"recipe": "gan", "data.path": "my photos/a.zip", "train.amp": False, "train.steps": 300})
    cmd = command_line(cfg, runs_dir="/srv/runs")
    # a path with a space is quoted; a bool switched off is its --no- flag; the runs folder comes last
    assert cmd == "python -m gan_core train --recipe gan --data-path 'my photos/a.zip' --steps 300 --no-amp --runs-dir /srv/runs"
    assert torchrun_command(cfg, 2) == "torchrun --nproc_per_node 2 -m gan_core train " + command_line(cfg)[len("python -m gan_core train "):]


def test_base_type_drops_only_the_none():
    from gan_core.config import base_type

    assert base_type(int | None) is int and base_type(str) is str and base_type(float | None) is float
