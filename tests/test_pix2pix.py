"""pix2pix: the models against the reference implementation, the recipe and its
ablations, exports that keep the discriminator, translation of any size without
seams, the maps, and ``python -m gan_core translate`` on hostile files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from conftest import tiny
from PIL import Image

from gan_core import checkpoints, runs
from gan_core import translate as T
from gan_core.cli import main
from gan_core.data.paired import derive
from gan_core.errors import CheckpointError, ConfigError, DataError
from gan_core.models.pix2pix import PatchDiscriminator, UNetGenerator
from gan_core.recipes import linear_decay_half, resolve
from gan_core.training import train


@pytest.fixture
def user_error():
    """user_error(excinfo, *mentions): one line, one sentence, naming what is wrong."""

    def check(excinfo, *mentions: str) -> str:
        message = str(excinfo.value)
        assert "\n" not in message and message.endswith("."), message
        for m in mentions:
            assert str(m) in message, f"{m!r} not in {message!r}"
        return message

    return check


def trained(tmp_path, data="photos", pairs="grey", steps=2, **changes):
    cfg = resolve(tiny("pix2pix", data, steps=steps, **{"data.pairs": pairs, "data.limit": 32, **changes}))
    run_dir = runs.create_run(cfg, tmp_path)
    status = train(cfg, run_dir)
    assert status["state"] == "finished", status
    return run_dir


@pytest.fixture(scope="module")
def grey_run(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("p2p"), **{"data.image_size": 32})


@pytest.fixture(scope="module")
def translator(grey_run):
    return T.load_translator(grey_run / "checkpoints" / "last.safetensors")


def photo(h, w, seed=0) -> np.ndarray:
    """A smooth colour picture (random images are all edges; real photos are not)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [np.sin(6 * x * rng.uniform(0.5, 2) + 5 * y * rng.uniform(0.5, 2) + rng.uniform(0, 6)) for _ in range(3)]
    return ((np.stack(chans, axis=2) + 1) * 127.5).astype(np.uint8)


# ----------------------------------------------------------------------------- models


def test_models_match_the_reference_implementation():
    # junyanz/pytorch-CycleGAN-and-pix2pix prints 54.414 M for unet_256 and 2.769 M for
    # the basic (n_layers=3) PatchGAN on 3 + 3 channels, both at 64 base channels.
    with torch.device("meta"):
        G, D = UNetGenerator(3, 3, 256, 64), PatchDiscriminator(3, 3, 256, 64)
    assert round(sum(p.numel() for p in G.parameters()) / 1e6, 3) == 54.414
    assert round(sum(p.numel() for p in D.parameters()) / 1e6, 3) == 2.769
    assert G.depth == 8 and sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == 3
    # The encoder-decoder ablation: the same layers without the skip concatenations.
    with torch.device("meta"):
        E = UNetGenerator(3, 3, 256, 64, skips=False)
    assert G.up[0][1].in_channels == 128 and E.up[0][1].in_channels == 64


def test_the_patchgan_sees_70_x_70_patches_and_returns_30_x_30_for_256_px():
    D = PatchDiscriminator(3, 3, 256, width=4).eval()
    src = torch.zeros(1, 3, 256, 256, requires_grad=True)
    out = D(src, torch.zeros(1, 3, 256, 256))
    assert out.shape == (1, 1, 30, 30)
    out[0, 0, 15, 15].backward()
    rows, cols = src.grad.abs().sum(dim=(0, 1)).nonzero(as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)


def test_the_unet_is_fully_convolutional_and_its_skips_carry_detail():
    G = UNetGenerator(1, 3, 32, width=4).eval()
    with torch.no_grad():
        out = G(torch.rand(2, 1, 64, 96) * 2 - 1)  # trained at 32, run at other multiples of 2^5
    assert out.shape == (2, 3, 64, 96) and out.abs().max() <= 1
    with pytest.raises(RuntimeError):
        G(torch.zeros(1, 1, 40, 40))  # not a multiple: translate.py pads first


# ----------------------------------------------------------------------------- recipe


def test_defaults_follow_the_paper():
    cfg = resolve(tiny("pix2pix", "photos", **{"data.pairs": "grey", "model.width": None, "data.image_size": 64}))
    o, lo, m = cfg.optim, cfg.loss, cfg.model
    assert (o.optimizer, o.lr_g, o.lr_d, o.beta1, o.beta2) == ("adam", 2e-4, 2e-4, 0.5, 0.999)
    assert (lo.l1_weight, lo.gan_weight, lo.g_loss, lo.d_steps) == (100.0, 1.0, "non-saturating", 1)
    assert (m.arch, m.width) == ("unet", 64)


@pytest.mark.parametrize("changes, mentions", [
    ({"recipe": "pix2pix"}, ["holds single images", "--pairs edges", "--data paired"]),
    ({"recipe": "dcgan", "data.pairs": "edges"}, ["--pairs", "--recipe pix2pix"]),
    ({"recipe": "dcgan", "loss.l1_weight": 10.0}, ["--l1-weight", "pix2pix"]),
    ({"recipe": "dcgan", "loss.gan_weight": 0.0}, ["--gan-weight", "pix2pix"]),
    ({"recipe": "dcgan", "model.arch": "unet"}, ["--arch unet", "mlp or conv"]),
    ({"recipe": "pix2pix", "data.pairs": "edges", "model.arch": "conv"}, ["--arch conv", "unet or encoder-decoder"]),
    ({"recipe": "pix2pix", "data.pairs": "edges", "loss.l1_weight": 0.0, "loss.gan_weight": 0.0}, ["both 0"]),
    ({"recipe": "pix2pix", "data.pairs": "edges", "data.direction": "BtoA"}, ["--direction", "--data paired"]),
    ({"recipe": "pix2pix", "data.pairs": "edges", "data.image_size": 24}, ["--image-size"]),
    ({"recipe": "pix2pix", "data.pairs": "edges", "loss.g_loss": "wasserstein"}, ["critic"]),
    ({"recipe": "dcgan", "data.split": "val"}, ["--split"]),
])
def test_settings_that_make_no_sense_are_refused_in_one_sentence(changes, mentions, user_error):
    cfg = tiny("dcgan", "faces-lfw").replace(**changes)
    with pytest.raises(ConfigError) as e:
        resolve(cfg)
    user_error(e, *mentions)


def test_paired_data_on_disk_is_for_pix2pix_only(tmp_path, user_error):
    with pytest.raises(ConfigError) as e:
        resolve(tiny("gan", "paired", **{"data.path": str(tmp_path)}))
    user_error(e, "--data paired", "--recipe pix2pix")


def test_learning_rate_is_constant_then_decays_linearly_to_zero(tmp_path):
    factors = [linear_decay_half(s, 10) for s in range(1, 11)]
    assert factors[:5] == [1.0] * 5 and factors[5:] == [1.0, 0.8, 0.6, 0.4, 0.2]
    run_dir = trained(tmp_path, steps=8)
    rows, _ = runs.read_metrics(run_dir)
    assert [r["lr_g"] for r in rows] == pytest.approx([2e-4 * linear_decay_half(s, 8) for s in range(1, 9)])


def test_losses_l1_plus_cgan_with_d_halved(tmp_path):
    row = runs.read_metrics(trained(tmp_path))[0][-1]
    assert row["loss_d"] == pytest.approx(0.5 * (row["loss_d_real"] + row["loss_d_fake"]), rel=1e-5)
    assert row["loss_g"] == pytest.approx(row["loss_g_gan"] + 100 * row["l1"], rel=1e-5)


@pytest.mark.parametrize("changes, expect", [
    ({"loss.gan_weight": 0.0}, lambda r: r["loss_g"] == pytest.approx(100 * r["l1"], rel=1e-5) and "loss_g_gan" not in r),
    ({"loss.l1_weight": 0.0}, lambda r: r["loss_g"] == pytest.approx(r["loss_g_gan"], rel=1e-5)),
    ({"model.arch": "encoder-decoder"}, lambda r: r["loss_g"] == pytest.approx(r["loss_g_gan"] + 100 * r["l1"], rel=1e-5)),
])
def test_the_papers_ablations_train(changes, expect, tmp_path):
    run_dir = trained(tmp_path, **changes)
    assert expect(runs.read_metrics(run_dir)[0][-1])
    assert runs.read_config(run_dir).model.arch == changes.get("model.arch", "unet")


def test_l1_falls_as_it_trains(tmp_path):
    rows = runs.read_metrics(trained(tmp_path, data="faces-lfw", pairs="blur", steps=30, **{"optim.lr_g": 2e-3, "optim.lr_d": 2e-3}))[0]
    assert np.mean([r["l1"] for r in rows[-5:]]) < 0.75 * np.mean([r["l1"] for r in rows[:5]])


def test_the_live_grid_shows_source_output_target_triplets(tmp_path):
    from gan_core.config import DataConfig
    from gan_core.data import load_data

    run_dir = trained(tmp_path, data="faces-lfw", pairs="edges", **{"train.n_samples": 12})  # 4 triplets, 2 a row
    (_, grid_path), = runs.sample_images(run_dir)
    grid = np.asarray(Image.open(grid_path).convert("L")).astype(int)
    assert grid.shape == (2 + 2 * 18, 2 + 6 * 18)  # 16 px cells, 2 px padding

    def cell(r, c):
        return grid[2 + 18 * r : 18 * (r + 1), 2 + 18 * c : 18 * (c + 1)]

    fixed = load_data(DataConfig(name="faces-lfw", pairs="edges", image_size=16, limit=32)).fixed(4)
    to_u8 = lambda x: ((x[0].numpy() + 1) * 127.5).round()
    for k in range(4):
        r, c = divmod(k, 2)
        assert np.abs(cell(r, 3 * c) - to_u8(fixed["source"][k])).max() <= 1  # the edge map
        assert np.abs(cell(r, 3 * c + 2) - to_u8(fixed["target"][k])).max() <= 1  # the real face


# ----------------------------------------------------------------------------- checkpoints


def test_export_keeps_the_discriminator_for_the_realism_map(grey_run, tmp_path, capsys):
    out = tmp_path / "p2p.safetensors"
    main(["export", str(grey_run), "--out", str(out)])
    assert "Wrote the generator and discriminator of" in capsys.readouterr().out  # and says so
    ckpt = checkpoints.read(out)
    assert ckpt.part("discriminator") and ckpt.part("generator")
    assert T.load_translator(out).has_discriminator


def test_without_a_discriminator_there_is_no_realism_map(grey_run, tmp_path, user_error):
    from safetensors.torch import save_file

    ckpt = checkpoints.read(grey_run / "checkpoints" / "last.safetensors")
    meta = {"format": checkpoints.FORMAT, "config": ckpt.config.to_json(), "data": __import__("json").dumps(ckpt.data.to_dict()),
            "step": str(ckpt.step)}
    path = tmp_path / "g-only.safetensors"
    save_file({f"generator.{k}": v for k, v in ckpt.part("generator").items()}, path, metadata=meta)
    tr = T.load_translator(path)
    assert not tr.has_discriminator
    img = photo(40, 40)
    assert T.translate(tr, T.source_for(tr, img)).shape == (40, 40, 3)
    with pytest.raises(CheckpointError) as e:
        T.realism_map(tr, T.source_for(tr, img), img)
    user_error(e, "no discriminator")

    # A discriminator that does not fit its own metadata is refused before it is built.
    bad = tmp_path / "bad-d.safetensors"
    tensors = {f"generator.{k}": v for k, v in ckpt.part("generator").items()}
    tensors.update({f"discriminator.{k}": v for k, v in ckpt.part("discriminator").items()})
    first = next(k for k in tensors if k.startswith("discriminator.") and k.endswith("weight"))
    tensors[first] = torch.zeros(3, 3, 3, 3)
    save_file(tensors, bad, metadata=meta)
    with pytest.raises(CheckpointError) as e:
        T.load_translator(bad)
    user_error(e, "discriminator that does not fit")


def test_a_noise_generator_is_not_a_translator(tmp_path, user_error):
    cfg = resolve(tiny("dcgan", "faces-lfw"))
    run_dir = runs.create_run(cfg, tmp_path)
    train(cfg, run_dir)
    with pytest.raises(CheckpointError) as e:
        T.load_translator(run_dir / "checkpoints" / "last.safetensors")
    user_error(e, "dcgan", "pix2pix checkpoint")


# ----------------------------------------------------------------------------- translation


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 13, 3), (33, 20, 1), (256, 256, 3), (512, 512, 3), (768, 1024, 3), (1100, 300, 4)])
def test_any_size_and_aspect_comes_back_at_its_own_size(translator, shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    result = T.translate_image(translator, image)
    assert result.output.shape == (*shape[:2], 3) and result.output.dtype == np.uint8
    assert result.source.shape == (*shape[:2], 1)  # the grey input the model was given


def test_tiles_blend_without_seams(translator):
    import copy

    tr = copy.deepcopy(translator)
    torch.manual_seed(0)
    for m in tr.gen.model.modules():  # PyTorch's default init: outputs that vary with the input, unlike 2 steps from N(0, 0.02)
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            m.reset_parameters()
    source = T.source_for(tr, photo(768, 1024))
    whole = T.translate(tr, source, tile=1024).astype(int)  # one pass
    assert whole.std() > 5
    tiled = T.translate(tr, source).astype(int)  # 1024 x 768 > 512: tiles overlapping by >= 64 px
    diff = np.abs(tiled - whole)
    assert diff.max() <= 3 and diff.mean() < 0.05
    # The control: tiles that merely touch show where they meet.
    assert np.abs(T.translate(tr, source, overlap=0).astype(int) - whole).max() > 10


def test_large_images_are_done_a_row_of_tiles_at_a_time(translator):
    writes = []
    T._tiled(lambda x: x[:, :1], photo(2000, 300), 1, translator.multiple, lambda top, rows: writes.append((top, len(rows))))
    assert len(writes) >= 4 and max(n for _, n in writes) <= T.TILE
    assert [top for top, _ in writes] == list(np.cumsum([0] + [n for _, n in writes[:-1]])) and sum(n for _, n in writes) == 2000


def test_the_derived_input_is_the_training_derivation(tmp_path):
    tr = T.load_translator(trained(tmp_path, data="faces-lfw", pairs="edges") / "checkpoints" / "last.safetensors")
    image = photo(50, 70)
    grey = T.as_channels(image, 1)  # the model's targets are grey faces
    assert np.array_equal(T.source_for(tr, image), derive("edges", grey))
    result = T.translate_image(tr, image)
    assert np.array_equal(result.source, derive("edges", grey)) and result.output.shape == (50, 70, 1)
    drawn = np.full((40, 40, 1), 255, np.uint8)
    drawn[20] = 0  # a hand-drawn line is taken as it is
    assert np.array_equal(T.translate_image(tr, drawn, derive_source=False).source, drawn)
    small = T.translate_image(tr, image, scale=0.5)  # worked on at half size, returned at full size
    assert small.output.shape == (50, 70, 1) and small.source.shape == (50, 70, 1)
    with pytest.raises(ConfigError):
        T.translate_image(tr, image, scale=0)


def test_split_pair_and_the_maps(translator, user_error):
    pair = np.concatenate([np.full((20, 20, 3), 10, np.uint8), np.full((20, 20, 3), 250, np.uint8)], axis=1)
    a, b = T.split_pair(pair)
    assert a.mean() == 10 and b.mean() == 250
    b2, a2 = T.split_pair(pair, "BtoA")
    assert b2.mean() == 250 and a2.mean() == 10
    with pytest.raises(DataError) as e:
        T.split_pair(np.zeros((20, 6, 3), np.uint8))
    user_error(e, "side by side")

    err = T.l1_error_map(a, b)
    assert err.shape == (20, 20) and np.allclose(err, 240 / 255)
    assert not T.l1_error_map(a, a).any()
    with pytest.raises(DataError):
        T.l1_error_map(a, pair)

    image = photo(100, 150)
    src = T.source_for(translator, image)
    real = T.realism_map(translator, src, image)
    fake = T.realism_map(translator, src, np.zeros_like(image))
    assert real.shape == (100, 150) and 0 <= real.min() and real.max() <= 1
    assert not np.allclose(real, fake)  # the verdict depends on the image judged
    overlay = T.heatmap(real, image)
    assert overlay.shape == (100, 150, 3) and overlay.dtype == np.uint8


# ----------------------------------------------------------------------------- command line


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def _over_limit_png(path):
    """A valid 1 x 1 PNG whose header is rewritten to claim 10,000 x 10,000 pixels."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of fields
    ihdr[4:12] = struct.pack(">II", 10_000, 10_000)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(data))
    return path


def test_cli_translates_every_kind_of_image_and_refuses_the_rest_one_line_each(grey_run, tmp_path, capsys):
    ckpt = grey_run / "checkpoints" / "last.safetensors"
    inp = tmp_path / "in"
    inp.mkdir()
    colour = Image.fromarray(photo(30, 44))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees
    frames = [Image.new("RGB", (24, 18), c) for c in ((200, 0, 0), (0, 200, 0))]
    good = {
        _save(colour, inp / "plain.png"): (30, 44),
        _save(colour, inp / "rotated.jpg", exif=exif): (44, 30),
        _save(colour.convert("CMYK"), inp / "cmyk.jpg"): (30, 44),
        _save(Image.fromarray(np.asarray(colour.convert("L")).astype(np.uint16) * 257), inp / "deep.png"): (30, 44),
        _save(colour.convert("P"), inp / "palette.png"): (30, 44),
        _save(colour.convert("RGBA"), inp / "alpha.png"): (30, 44),
        _save(frames[0], inp / "anim.gif", save_all=True, append_images=frames[1:], duration=100): (18, 24),
    }
    assert Image.open(inp / "deep.png").mode.startswith("I")
    truncated = inp / "truncated.png"
    truncated.write_bytes((inp / "plain.png").read_bytes()[:60])
    bad = [truncated, inp / "empty.png", inp / "text.png", _over_limit_png(inp / "huge.png"), inp / "missing.png"]
    (inp / "empty.png").write_bytes(b"")
    (inp / "text.png").write_text("not an image")
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["translate", str(ckpt), *map(str, good), *map(str, bad), "--out", str(out)])
    cap = capsys.readouterr()
    assert code == 1
    errors = [line for line in cap.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(bad) and "Traceback" not in cap.err
    for path, line in zip(bad, errors):
        assert path.name in line, line
    assert "megapixel" in errors[3]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in good)  # nothing for the failures, no temp files
    for path, (h, w) in good.items():
        assert np.asarray(Image.open(out / path.name)).shape[:2] == (h, w), path.name
    first = np.asarray(Image.open(out / "anim.gif").convert("RGB"))
    assert first.shape == (18, 24, 3)


def test_cli_translate_refuses_clashes_and_non_translators(grey_run, tmp_path, capsys):
    ckpt = str(grey_run / "checkpoints" / "last.safetensors")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = _save(Image.fromarray(photo(20, 20)), tmp_path / "a" / "x.png")
    two = _save(Image.fromarray(photo(20, 20, 1)), tmp_path / "b" / "x.png")
    capsys.readouterr()
    assert main(["translate", ckpt, str(one), str(two), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.count("error: ") == 1 and "same file name" in err
    before = one.read_bytes()
    assert main(["translate", ckpt, str(one), "--out", str(tmp_path / "a")]) == 1
    assert "overwritten by its own translation" in capsys.readouterr().err and one.read_bytes() == before
    assert main(["translate", ckpt, str(tmp_path / "a"), "--out", str(tmp_path / "o")]) == 1
    assert "a is a folder; give the image files in it (for example " in capsys.readouterr().err

    assert main(["sample", ckpt, "--out", str(tmp_path / "s.png")]) == 2  # a translator does not sample noise
    assert "python -m gan_core translate" in capsys.readouterr().err and not (tmp_path / "s.png").exists()

    cfg = resolve(tiny("dcgan", "faces-lfw"))
    run_dir = runs.create_run(cfg, tmp_path / "runs")
    train(cfg, run_dir)
    assert main(["translate", str(run_dir / "checkpoints" / "last.safetensors"), str(one), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and not (tmp_path / "o2").exists()
