"""gan_core.form: the Train form's one declaration and what is derived from it."""

from types import SimpleNamespace

import pytest

from gan_core import form, presets
from gan_core.config import Config, DataConfig, command_line
from gan_core.recipes import resolve

SETTINGS = SimpleNamespace(runs_dir="/nowhere", max_steps=None)
NO_PAIRS = lambda *a: None  # noqa: E731


def dcgan() -> Config:
    return resolve(Config(recipe="dcgan", data=DataConfig(name="faces-lfw")))


def test_keys_come_from_the_declaration():
    assert form.FORM_KEYS == tuple(f"train_{f.name}" for f in form.FIELDS)
    assert len(set(form.FORM_KEYS)) == len(form.FIELDS)
    assert form.KEYS.steps == "train_steps" and form.KEYS.log_every == "train_log_every"
    with pytest.raises(AttributeError):
        form.KEYS.stpes  # a misspelt key fails instead of naming a new one


def test_every_field_sets_a_real_config_field():
    for f in form.FIELDS:
        assert f.path is None or f.path in form.CONFIG_FIELDS, f.name
        assert f.path is not None or f.labels is not None or f.section == "data", f.name


def test_help_and_choices_come_from_the_config_unless_the_form_says_otherwise():
    log_every = form.BY_KEY[form.KEYS.log_every]
    assert log_every.help_text(dcgan()) == "Write a metrics line every N steps (--log-every)."
    assert log_every.kind_of_widget() == "number"
    assert form.BY_KEY[form.KEYS.optimizer].options(dcgan()) == ("adam", "rmsprop", "sgd")  # the config's own choices
    assert form.BY_KEY[form.KEYS.batch_size].help_text(dcgan()) is None  # "": none, as the page always had
    p2p = resolve(Config(recipe="pix2pix").replace(**{"data.pairs": "edges"}))
    assert form.BY_KEY[form.KEYS.arch].options(p2p) == ("unet", "encoder-decoder")
    assert "λ = 100" in form.BY_KEY[form.KEYS.objective].help_text(p2p)


def test_defaults_cap_the_steps_and_take_plain_fields_from_the_config():
    values = form.defaults(dcgan(), "image", "training", max_steps=300)
    assert values[form.KEYS.steps] == 300 and values[form.KEYS.lr_g] == dcgan().optim.lr_g
    assert form.KEYS.device not in values  # the widget's own first option
    assert form.defaults(dcgan(), "image", "advanced") == {form.KEYS.log_every: Config().train.log_every}
    data = form.defaults(Config(), "vector", "data")
    assert data == {form.KEYS.n_points: DataConfig().n_points}  # no image fields for points


def test_changes_leave_the_recipes_choices_unset():
    d = dcgan()
    values = {form.KEYS.steps: 120.0, form.KEYS.batch_size: d.train.batch_size, form.KEYS.seed: 3, form.KEYS.device: "cpu",
              form.KEYS.optimizer: d.optim.optimizer, form.KEYS.lr_g: 1e-3, form.KEYS.lr_d: d.optim.lr_d,
              form.KEYS.d_steps: d.loss.d_steps, form.KEYS.g_loss: d.loss.g_loss, form.KEYS.log_every: 5}
    changed = form.changes(values, d, "image")
    assert changed == {"train.steps": 120, "train.batch_size": d.train.batch_size, "train.seed": 3, "train.device": "cpu",
                       "optim.lr_g": 1e-3, "train.log_every": 5, "train.sample_every": form.sample_every_for(120)}
    assert isinstance(changed["train.steps"], int)
    cmd = command_line(form.build_config("dcgan", {"name": "faces-lfw"}, changed))
    assert "--lr-g 0.001" in cmd and "--log-every 5" in cmd and "--optimizer" not in cmd and "--lr-d" not in cmd


def test_changes_for_a_wgan_and_for_pix2pix():
    wgan = resolve(Config(recipe="wgan").replace(**{"data.name": "ring-8"}))
    assert "loss.g_loss" not in form.changes({form.KEYS.g_loss: "minimax"}, wgan, "vector")  # a WGAN's loss is fixed
    p2p = resolve(Config(recipe="pix2pix").replace(**{"data.pairs": "edges"}))
    changed = form.changes({form.KEYS.arch: "encoder-decoder", form.KEYS.objective: "L1 only"}, p2p, "image")
    assert changed == {"model.arch": "encoder-decoder", "loss.gan_weight": 0.0}
    assert form.changes({form.KEYS.arch: "unet", form.KEYS.objective: "cGAN + L1 (the paper's)"}, p2p, "image") == {}


def test_sample_every_for():
    assert form.sample_every_for(100) == 10 and form.sample_every_for(2000) == 25 and form.sample_every_for(10_000) == 100


def test_a_preset_fills_the_form_as_if_chosen_by_hand():
    values, sigs = form.preset_values(presets.PRESETS["digits"].config, max_steps=300)
    assert values[form.KEYS.recipe] == "gan" and values[form.KEYS.data_mode] == form.BUILTIN
    assert values[form.KEYS.data] == "mnist-5k" and values[form.KEYS.image_size] == 28  # the preset's, not the plain 32
    assert values[form.KEYS.steps] == 300 and values[form.KEYS.channels] == "As in the data"
    assert form.KEYS.n_points not in values and form.KEYS.device not in values
    assert sigs[form.KEYS.optimizer] == "gan" and sigs[form.KEYS.steps] == "config"
    ring, _ = form.preset_values(presets.PRESETS["ring"].config)
    assert form.KEYS.n_points in ring and form.KEYS.image_size not in ring


def test_problem_is_one_sentence_from_the_declared_bounds():
    ok = Config(recipe="dcgan")
    assert form.problem(ok, "image", SETTINGS, "uploads", NO_PAIRS) is None
    big = ok.replace(**{"train.batch_size": 5000})
    assert form.problem(big, "image", SETTINGS, "uploads", NO_PAIRS) == "Batch size must be between 1 and 4,096, not 5,000."
    many = Config(recipe="gan").replace(**{"data.name": "ring-8", "data.n_points": 2_000_000})
    assert form.problem(many, "vector", SETTINGS, "uploads", NO_PAIRS) == (
        "Points drawn from the distribution must be between 1 and 1,000,000, not 2,000,000.")
    capped = SimpleNamespace(runs_dir="/nowhere", max_steps=300)
    assert "at most 300 steps" in form.problem(ok.replace(**{"train.steps": 301}), "image", capped, "uploads", NO_PAIRS)
    assert form.problem(ok.replace(**{"train.log_every": 0}), "image", SETTINGS, "uploads", NO_PAIRS) == (
        "Metrics every (steps) must be at least 1, not 0.")  # the engine's own sentence, with the form's label for the flag
    assert form.problem(ok.replace(**{"train.log_every": 10**7}), "image", SETTINGS, "uploads", NO_PAIRS) == (
        "Metrics every (steps) must be between 1 and 1,000,000, not 10,000,000.")


def test_pairs_are_judged_for_built_in_data_only():
    seen = []
    grey = Config(recipe="pix2pix").replace(**{"data.pairs": "grey"})
    assert form.problem(grey, "image", SETTINGS, "uploads", lambda *a: seen.append(a) or "No colour here.") == "No colour here."
    assert seen == [("faces-lfw", None, None, "grey")]


def test_a_conditional_recipe_moves_off_an_unlabelled_built_in_set():
    assert form.labelled_instead("cgan", "faces-lfw") == "mnist-5k"  # the first labelled image set
    assert form.labelled_instead("cgan", "mnist-5k") is None  # already labelled
    assert form.labelled_instead("dcgan", "faces-lfw") is None  # an unconditional recipe trains on anything
    assert form.labelled_instead("cgan", None) is None  # not a built-in set (a folder or an upload)


def test_recipe_defaults_fall_back_to_a_source_the_recipe_accepts():
    assert form.recipe_defaults("dcgan", {"name": "faces-lfw"}) == dcgan()
    # cgan cannot train on unlabelled faces: its settings on the first source it takes, so the form still draws
    fallback = form.recipe_defaults("cgan", {"name": "faces-lfw"})
    assert fallback.recipe == "cgan" and fallback.data.name != "faces-lfw"


def test_pairs_problem_is_the_loaders_own_sentence():
    assert form.pairs_problem("faces-lfw", None, None, "edges") is None
    sentence = form.pairs_problem("mnist-5k", None, None, "grey")  # grey digits cannot give grey -> colour pairs
    assert sentence and sentence.endswith(".") and "grey" in sentence.lower()
