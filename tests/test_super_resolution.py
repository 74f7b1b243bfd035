"""x4 super-resolution (issue #18): the enlarge path of translate.translate_picture, which
the Pix2Pix page's "Make it 4x larger" (its handler, pages.common.shared.translate_upload) and
``translate --enlarge 4`` both take; the output-pixel limit checked before anything is
allocated; ``--no-derive`` on an already-enlarged picture giving the same pixels; and
the border ratio of a small sr4 model trained for seconds."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import isolated_repo, tiny
from gan_core import translate as T
from gan_core.cli import main
from gan_core.data.builtin import held_out_photos
from gan_core.data.paired import bicubic_resize, derive
from gan_core.errors import ConfigError, GanError
from gan_core.recipes import resolve
from gan_core.runs import create_run
from gan_core.training import train
from gan_core.untrusted import MAX_IMAGE_PIXELS
from pages.common.shared import translate_upload


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [np.sin(9 * x * rng.uniform(0.5, 2) + 7 * y * rng.uniform(0.5, 2) + rng.uniform(0, 6)) for _ in range(3)]
    return ((np.stack(chans, axis=2) + 1) * 127.5).astype(np.uint8)


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small sr4 model (32 px crops, width 8, L1 only) trained for a few seconds, and a
    tiny grey -> colour one that does not enlarge."""
    root = tmp_path_factory.mktemp("sr")
    out = {}
    for name, cfg in (
        ("sr", tiny("pix2pix", "photos", steps=120, **{"data.pairs": "sr4", "data.image_size": 32, "loss.gan_weight": 0.0,
                                                       "train.batch_size": 8})),
        ("grey", tiny("pix2pix", "photos", **{"data.pairs": "grey", "data.limit": 16})),
    ):
        cfg = resolve(cfg)
        run_dir = create_run(cfg, root / "runs")
        assert train(cfg, run_dir)["state"] == "finished"
        out[name] = run_dir / "checkpoints" / "last.safetensors"
    return out


def test_enlarging_gives_four_times_the_picture_from_its_bicubic_enlargement(models):
    tr = T.load_translator(models["sr"])
    assert tr.enlarge == 4 and T.training_scale(tr, 2000, 1000) == 1.0  # restores at the picture's own size
    small = photo(30, 47)
    result = T.translate_picture(tr, small, enlarge=4)
    assert result.output.shape == (120, 188, 3) and result.size == (188, 120)
    assert np.array_equal(result.picture, bicubic_resize(small, 188, 120))  # enlarged by bicubic, then translated
    assert not result.derived and result.work_size is None and result.target is None
    # translate --no-derive on the already-enlarged picture is the same translation, pixel for pixel
    again = T.translate_picture(tr, bicubic_resize(small, 188, 120), derive=False)
    assert np.array_equal(again.output, result.output)


def test_the_output_pixel_limit_is_checked_before_anything_is_allocated(models, monkeypatch):
    tr = T.load_translator(models["sr"])
    # a 6,000 x 4,000 upload as a zero-byte view: enlarged 4x it would be 384 megapixels
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (4000, 6000, 3))
    monkeypatch.setattr(T, "bicubic_resize", lambda *a: pytest.fail("resized before the limit was checked"))
    with pytest.raises(ConfigError) as e:
        T.translate_picture(tr, huge, enlarge=4, name="big.jpg")
    message = str(e.value)
    assert "big.jpg" in message and "384 megapixels" in message and f"{MAX_IMAGE_PIXELS // 1_000_000}-megapixel" in message
    assert message.count(".") <= 2 and "\n" not in message and message.endswith(".")
    w, h = (int(v) for v in message.split("at most ")[1].split(" pixels")[0].split(" x "))
    assert w * h * 16 <= MAX_IMAGE_PIXELS and (w + 2) * (h + 2) * 16 > MAX_IMAGE_PIXELS  # the largest that fits is offered


def test_a_model_that_does_not_enlarge_or_another_factor_is_refused_in_one_sentence(models):
    grey, sr = T.load_translator(models["grey"]), T.load_translator(models["sr"])
    for tr, factor, words in ((grey, 4, "not trained to enlarge"), (sr, 2, "enlarges pictures 4x, not 2x")):
        with pytest.raises(ConfigError) as e:
            T.translate_picture(tr, photo(8, 8), enlarge=factor)
        assert words in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError):
        T.translate_picture(sr, photo(8, 16), enlarge=4, pair=True)


def test_the_pages_handler_enlarges_an_upload_and_refuses_one_too_large(models, monkeypatch):
    tr = T.load_translator(models["sr"])
    small = photo(20, 28, seed=3)
    shown = translate_upload(tr, png(small), "small.png", enlarge=4)
    assert shown.translation.output.shape == (80, 112, 3) and shown.name == "small.png"
    assert np.array_equal(shown.translation.output, T.translate_picture(tr, small, enlarge=4).output)  # the same pixels as the CLI's call
    monkeypatch.setattr(T, "MAX_IMAGE_PIXELS", 80 * 112 - 1)  # the same upload now enlarges past the limit
    with pytest.raises(GanError) as e:
        translate_upload(tr, png(small), "small.png", enlarge=4)
    assert "megapixel limit" in str(e.value) and "small.png" in str(e.value)


def test_translate_enlarge_and_no_derive_from_the_command_line(models, tmp_path, capsys):
    small = photo(24, 36, seed=5)
    Image.fromarray(small).save(tmp_path / "small.png")
    Image.fromarray(bicubic_resize(small, 144, 96)).save(tmp_path / "big.png")
    assert main(["translate", str(models["sr"]), str(tmp_path / "small.png"), "--enlarge", "4", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "small.png" in out and "note:" not in out
    assert main(["translate", str(models["sr"]), str(tmp_path / "big.png"), "--no-derive", "--out", str(tmp_path / "b")]) == 0
    assert "note:" not in capsys.readouterr().out
    # Neither: the picture is shrunk and restored at its own size, and a newcomer who wanted 4x is told how.
    assert main(["translate", str(models["sr"]), str(tmp_path / "small.png"), "--out", str(tmp_path / "d")]) == 0
    assert ("note: this model enlarges pictures 4x. Without --enlarge each picture is shrunk 4x and restored to its own "
            "size, to compare with itself; add --enlarge 4 to make it 4x larger.") in capsys.readouterr().out
    assert Image.open(tmp_path / "d" / "small.png").size == (36, 24)
    enlarged = np.asarray(Image.open(tmp_path / "a" / "small.png"))
    assert enlarged.shape == (96, 144, 3)
    assert np.array_equal(enlarged, np.asarray(Image.open(tmp_path / "b" / "big.png")))
    # refused once, before any input is read: a model that does not enlarge, and --enlarge with --pairs
    for ckpt, extra in ((models["grey"], []), (models["sr"], ["--pairs"])):
        assert main(["translate", str(ckpt), str(tmp_path / "small.png"), "--enlarge", "4", "--out", str(tmp_path / "c"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "c").exists()


def test_border_ratio_weighs_the_worst_outer_strip_against_the_median_column():
    error = np.full((40, 60), 0.1, np.float32)
    assert T.border_ratio(error) == pytest.approx(1.0)
    error[:, -4:] = 0.27  # a band at the right border, as the old grey model had
    assert T.border_ratio(error) == pytest.approx(2.7)
    error[:, -4:], error[-2:] = 0.1, 0.3  # two bad bottom rows of a 4-row strip (they raise every column a little)
    assert T.border_ratio(error) == pytest.approx(0.2 / 0.11)


def test_a_small_sr4_model_trained_for_seconds_keeps_its_borders(models):
    """On a held-out photograph (never trained on), at the page's default (full) scale:
    the model's worst 4-px border strip errs at most 1.3x its median column, and, being
    residual, it stays close to the bicubic enlargement it was given (the shipped
    model's gain over bicubic is measured by benchmarks/super_resolution_eval.py)."""
    tr = T.load_translator(models["sr"])
    full = held_out_photos()["grace_hopper.jpg"]
    truth = np.ascontiguousarray(full[100:292, 96:352])  # 256 x 192, a multiple of 4
    result = T.translate_picture(tr, truth)  # derives the sr4 input, as the page does by default
    assert np.array_equal(result.source, derive("sr4", truth))
    assert T.border_ratio(result.error) <= 1.3
    bicubic = T.l1_error_map(result.source, truth).mean()
    assert result.error.mean() < 1.1 * bicubic


def test_the_page_offers_make_it_4x_larger_for_a_super_resolution_model_only(models, tmp_path, monkeypatch):
    """AppTest on the sample photograph (it cannot drive uploads; the handler above is
    the uploads' path): the toggle appears for the sr4 model and not for the grey one,
    and on, the picture comes back 4x its size, its bicubic enlargement shown beside it."""
    import shutil
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    shipped = isolated_repo(tmp_path, monkeypatch)
    shutil.copy(models["sr"], shipped / "pix2pix-super-resolution.safetensors")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "pix2pix.py"), default_timeout=120)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    assert any(c.value.startswith("Turns pictures enlarged 4x into sharp ones") for c in at.caption)
    heads = [m.value for m in at.markdown if " pixels" in m.value]
    assert heads == ["**china.png** · 640 x 427 pixels"]  # a photograph it never saw, at full size (super-resolution)
    at.segmented_control(key="p2p_sample").set_value("astronaut-face").run()  # 120 x 120: a small picture
    at.toggle(key="p2p_no_derive").set_value(True).run()  # "already enlarged", then "Make it 4x larger": the second wins, said
    at.toggle(key="p2p_enlarge").set_value(True).run()
    no_derive = at.toggle(key="p2p_no_derive")
    assert not no_derive.value and no_derive.disabled and "Off while Make it 4x larger is on" in no_derive.help
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [m.value for m in at.markdown if " pixels" in m.value] == ["**astronaut-face.png** · 120 x 120 → 480 x 480 pixels"]
    shown = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert shown[0] == "Your picture, enlarged 4x by bicubic" and "Output, 4x your picture's size" in shown
    shutil.copy(models["grey"], shipped / "pix2pix-super-resolution.safetensors")  # same name, a grey model
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "pix2pix.py"), default_timeout=120)
    at.run()
    assert not at.exception and not [t for t in at.toggle if t.key == "p2p_enlarge"]


def test_mirrored_indices_are_numpys_reflect_padding_as_far_out_as_asked():
    for n in (1, 2, 5):
        index = np.arange(-3 * n - 2, 4 * n + 3)
        pad = 3 * n + 2
        expected = np.pad(np.arange(n), (pad, index[-1] - (n - 1)), mode="reflect" if n > 1 else "edge")
        assert np.array_equal(T._mirror(index, n), expected)


@pytest.mark.parametrize("tile", [T.TILE, 64])  # one pass, and tiles whose rows the margin straddles
def test_a_super_resolution_model_sees_a_mirror_at_the_pictures_edge(models, tile):
    """sr4 translates with an 8 px reflected margin (``PairKind.margin``): exactly the
    translation of the picture padded by reflection, cropped back, and made without a
    padded copy; other kinds keep the network's own padding."""
    tr = T.load_translator(models["sr"])
    assert tr.margin == 8 and T.load_translator(models["grey"]).margin == 0
    picture = photo(150, 97, seed=3)
    out = T.translate(tr, picture, tile=tile)
    padded = np.pad(picture, ((8, 8), (8, 8), (0, 0)), mode="reflect")
    model, rows = tr.gen.model, []
    T._tiled(model, padded, 3, tr.multiple, lambda top, r: rows.append((top, r)), tile=tile)
    reference = np.concatenate([r for _, r in rows])[8:-8, 8:-8]
    assert np.array_equal(out, np.clip(np.rint((reference + 1.0) * 127.5), 0, 255).astype(np.uint8))
    plain = []
    T._tiled(model, picture, 3, tr.multiple, lambda top, r: plain.append(r), tile=tile)
    assert not np.array_equal(np.concatenate(plain), reference)  # the margin changes what the edge pixels see


@pytest.mark.parametrize("band", [0.0, 0.2])
def test_the_benchmarks_content_neutral_border_measures_see_a_band_and_not_the_content(monkeypatch, band):
    """benchmarks/super_resolution_eval.py's ``uploads``: on a photo whose lower rows are
    harder (the error grows towards its bottom, as foliage along a photo's bottom
    makes it), the whole-photo ratio is high for content alone, while the same-pixels
    measure is 1 unless the translator adds a band at a picture's edge."""
    from types import SimpleNamespace

    import benchmarks.super_resolution_eval as E

    rows = np.arange(240)
    photo = np.repeat(np.repeat(rows[:, None, None], 360, axis=1), 3, axis=2).astype(np.uint8)  # each pixel knows its row
    hardness = lambda r: 0.05 + 0.3 * (r / 239.0) ** 4  # noqa: E731 - the content's error, by the photo's row

    def translate_picture(tr, crop):
        error = hardness(crop[..., 0].astype(np.float64)).astype(np.float32)
        error[:, -4:] += band  # a band of wrong colour at the right border, the old grey model's kind
        return SimpleNamespace(error=error, source=crop)

    monkeypatch.setattr(T, "translate_picture", translate_picture)
    assert T.border_ratio(hardness(photo[..., 0].astype(np.float64))) > 1.5  # the whole photo: content alone misses 1.3
    figures = E.uploads(SimpleNamespace(pairs="edges"), "photo", photo)
    if band:
        assert figures["same_pixels"] > 2 and figures["uploads"] > 2
    else:
        assert figures["same_pixels"] == pytest.approx(1.0, abs=0.02) and figures["uploads_input"] is None
