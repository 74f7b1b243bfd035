import pytest

from conftest import tiny
from gan_core import checkpoints, runs
from gan_core.cli import main
from gan_core.config import command_line
from gan_core.config import Config
from gan_core.errors import ConfigError
from gan_core.inference import load_generator, sample, sample_grid
from gan_core.recipes import resolve
from gan_core.settings import check_server_path, load_settings
from gan_core.training import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cfg = resolve(tiny("dcgan", "faces-lfw", steps=2))
    run_dir = runs.create_run(cfg, tmp_path_factory.mktemp("runs"))
    train(cfg, run_dir)
    return run_dir


def test_export_keeps_only_the_generator_and_samples_the_same(trained, tmp_path, capsys):
    out = tmp_path / "small.safetensors"
    assert main(["export", str(trained), "--out", str(out)]) == 0
    full = checkpoints.read(trained / "checkpoints" / "last.safetensors")
    small = checkpoints.read(out)
    assert not small.part("discriminator") and small.part("generator").keys() == full.part("generator").keys()
    assert out.stat().st_size < (trained / "checkpoints" / "last.safetensors").stat().st_size
    a = sample(load_generator(trained / "checkpoints" / "last.safetensors"), 4, seed=5)
    b = sample(load_generator(out), 4, seed=5)
    assert (a == b).all() and a.shape == (4, 16, 16, 1)


def test_samples_depend_on_seed_and_truncation(trained):
    gen = load_generator(trained / "checkpoints" / "last.safetensors")
    assert (sample(gen, 3, seed=1) == sample(gen, 3, seed=1)).all()
    assert not (sample(gen, 3, seed=1) == sample(gen, 3, seed=2)).all()
    assert gen.noise(64, 0, truncation=0.5).abs().max() <= 1.0
    assert sample_grid(gen, 4).shape == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2, 3)


def test_command_line_reproduces_the_config(tmp_path):
    cfg = resolve(Config(recipe="wgan").replace(**{"data.name": "ring-8", "train.steps": 3, "train.amp": False}))
    cmd = command_line(cfg)
    assert cmd.startswith("python -m gan_core train --recipe wgan --data ring-8")
    import shlex

    from gan_core.cli import _build_parser, _config_from_args

    parser, dests = _build_parser()
    args = parser.parse_args(shlex.split(cmd)[3:])
    assert resolve(_config_from_args(args, dests)) == cfg


def test_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    s = load_settings()
    assert s.runs_dir == (tmp_path / "r").resolve() and s.demo and s.max_active_runs == 1 and s.max_steps == 2000 and s.max_run_s == 180.0
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUNS", "lots")
    with pytest.raises(ConfigError, match="GAN_WORKBENCH_MAX_RUNS must be a whole number"):
        load_settings()


def test_server_paths_must_stay_under_the_data_root(monkeypatch, tmp_path):
    (tmp_path / "root" / "faces").mkdir(parents=True)
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(tmp_path / "root"))
    s = load_settings()
    assert check_server_path("faces", s) == (tmp_path / "root" / "faces").resolve()
    with pytest.raises(ConfigError, match="outside the data folder"):
        check_server_path("../../etc", s)
    with pytest.raises(ConfigError, match="outside the data folder"):
        check_server_path("/etc", s)
    with pytest.raises(ConfigError, match="does not exist"):
        check_server_path("cats", s)


@pytest.mark.parametrize("typed", ["x" * 256 + ".zip", "a\0b", "\ud800", "loop/faces"])
def test_a_typed_path_the_server_cannot_hold_is_refused_in_one_sentence(monkeypatch, tmp_path, typed):
    """The finding: a 257-character name, a NUL, a lone surrogate or a loop of links
    typed into the Train page's "Path on the server" raised OSError, ValueError,
    UnicodeEncodeError or RuntimeError, a traceback on the page."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "loop").symlink_to(root / "loop")  # a link to itself
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(root))
    with pytest.raises(ConfigError) as e:
        check_server_path(typed, load_settings())
    message = str(e.value)
    assert "cannot be a path on this server" in message and "\n" not in message and "\0" not in message
    assert len(message) < 400  # the typed name is shortened, not echoed whole
