import pytest
import torch

from gan_core.config import DataConfig
from gan_core.data import SOURCES, GanData, Source, list_sources, load_data
from gan_core.errors import ConfigError, DataError

ALL = {"toy-1d", "ring-8", "grid-25", "spiral", "moons", "mnist-5k", "faces-lfw", "photos", "colour-photos", "folder", "celeba", "mnist", "fashion-mnist", "cifar10",
       "paired"}
BUILTIN = {"toy-1d", "ring-8", "grid-25", "spiral", "moons", "mnist-5k", "faces-lfw", "photos", "colour-photos"}


def test_every_source_is_registered():
    sources = list_sources()
    assert {s.name for s in sources} == ALL
    assert {s.name for s in sources if s.builtin} == BUILTIN
    assert all(s.needs_path for s in sources if not s.builtin)
    assert all(s.description and "\n" not in s.description for s in sources)
    # Menus list built-in sources first, toy sets before images.
    kinds = [(not s.builtin, s.kind != "vector") for s in sources]
    assert kinds == sorted(kinds)
    assert next(s for s in sources if s.name == "celeba").tags == ("attrs",)


def test_unknown_source_lists_valid_names(user_error):
    with pytest.raises(ConfigError) as e:
        load_data(DataConfig(name="imagenet"))
    user_error(e, "imagenet", "ring-8", "folder")


@pytest.mark.parametrize("name", ["folder", "celeba", "cifar10"])
def test_disk_sources_need_a_path(name, user_error):
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name=name))
    user_error(e, name, "--data-path")


def test_limit_keeps_the_first_items():
    full = load_data(DataConfig(name="ring-8", n_points=100)).tensors["real"]
    data = load_data(DataConfig(name="ring-8", n_points=100, limit=7))
    assert len(data) == 7 and torch.equal(data.tensors["real"], full[:7])
    assert len(load_data(DataConfig(name="ring-8", n_points=10, limit=50))) == 10  # a limit above the size is a no-op


@pytest.mark.parametrize(
    "changes, flag",
    [({"limit": 0}, "--limit"), ({"n_points": 0}, "--n-points"), ({"channels": 2, "name": "mnist-5k"}, "--channels")],
)
def test_bad_settings(changes, flag, user_error):
    cfg = DataConfig(**{"name": "ring-8", **changes})
    with pytest.raises(ConfigError) as e:
        load_data(cfg)
    user_error(e, flag)


def test_a_source_that_yields_nothing_is_an_error(monkeypatch, user_error):
    name = "test-empty-source"

    def empty(cfg):
        return GanData(name, "vector", (2,), tensors={"real": torch.empty(0, 2)})

    # Registered only for this test (monkeypatch removes it again), so other tests see the real registry.
    monkeypatch.setitem(SOURCES._entries, name, Source(name, "vector", empty, "always empty", builtin=True))
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name=name))
    user_error(e, name)
