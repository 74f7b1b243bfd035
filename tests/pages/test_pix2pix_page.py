"""The Pix2Pix page, with AppTest: a sample photograph translated at once, uploads of
any size (good ones translated while bad ones get their one sentence), A|B pairs split
by the model's direction, the derived input and the realism map; and the handler
behind the uploader (pages.common.shared.translate_upload, over gan_core.translate.translate_picture)
on hostile files."""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import gan_core.settings
from conftest import generator_only, isolated_repo, tiny
from gan_core import uploads
from gan_core import translate as T
from gan_core.errors import CheckpointError, DataError
from gan_core.recipes import resolve
from gan_core.runs import create_run
from gan_core.training import train
from pages.common.shared import download_stem, for_page, results_zip, translate_upload

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "pix2pix.py")
# Pillow warns about the forged 10,000 x 10,000 header before read_image refuses it in one sentence.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny checkpoints (16 px crops, 2 steps): grey -> colour on photos, edges -> faces,
    pairs from disk translated B -> A, a pix2pix without its discriminator, and two
    noise generators that belong on other pages."""
    root = tmp_path_factory.mktemp("p2p")
    pairs = root / "pairs"
    pairs.mkdir()
    for i in range(4):  # A|B: A red-ish on the left, B blue-ish on the right
        ab = np.zeros((24, 48, 3), np.uint8)
        ab[:, :24] = (200, 20 * i, 0)
        ab[:, 24:] = (0, 20 * i, 200)
        Image.fromarray(ab).save(pairs / f"{i}.png")
    out = {}
    for name, cfg in (("grey", tiny("pix2pix", "photos", **{"data.pairs": "grey", "data.limit": 16})),
                      ("edges", tiny("pix2pix", "faces-lfw", **{"data.pairs": "edges", "data.limit": 16})),
                      ("btoa", tiny("pix2pix", "paired", **{"data.path": str(pairs), "data.direction": "BtoA"})),
                      ("plain", tiny("dcgan", "faces-lfw")), ("cgan", tiny("cgan", "mnist-5k"))):
        cfg = resolve(cfg)
        run_dir = create_run(cfg, root / "runs")
        train(cfg, run_dir)
        out[name] = run_dir / "checkpoints" / "last.safetensors"
    out["no-d"] = generator_only(out["grey"], root / "g-only.safetensors")
    out["lab"] = colourful_lab(root)
    return out


def colourful_lab(root: Path) -> Path:
    """A tiny Lab colouriser (2 steps) whose last layer's bias is set so that it clearly
    colours every pixel (an untrained one predicts nearly no colour), with a default
    strength of 0.4 in its file as benchmarks/colour_eval.py --write would store it."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    cfg = resolve(tiny("pix2pix", "colour-photos", **{"data.pairs": "lab", "data.limit": 16}))
    run_dir = create_run(cfg, root / "runs")
    train(cfg, run_dir)
    with safe_open(str(run_dir / "checkpoints" / "last.safetensors"), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    tensors["generator.up.0.1.bias"] = torch.tensor([0.5, -0.4])
    tensors["generator.default_strength"] = torch.tensor(0.4)
    save_file(tensors, str(root / "lab.safetensors"), metadata=meta)
    return root / "lab.safetensors"


@pytest.fixture
def env(tmp_path, monkeypatch):
    return isolated_repo(tmp_path, monkeypatch)


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at: AppTest) -> list[str]:
    """The caption of every st.image on the page, top to bottom."""
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def headings(at: AppTest) -> list[str]:
    """The line above each translated picture: its name and size."""
    return [m.value for m in at.markdown if " pixels" in m.value]


def encoded(image: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kw)
    return buf.getvalue()


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colour picture (noise is all edges; photos are not)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [np.sin(6 * x * rng.uniform(0.5, 2) + 5 * y * rng.uniform(0.5, 2) + rng.uniform(0, 6)) for _ in range(3)]
    return ((np.stack(chans, axis=2) + 1) * 127.5).astype(np.uint8)


def over_limit_png() -> bytes:
    """A valid 1 x 1 PNG whose header claims 10,000 x 10,000 pixels (past the 50-megapixel limit)."""
    data = bytearray(encoded(np.zeros((1, 1, 3), np.uint8)))
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of fields
    ihdr[4:12] = struct.pack(">II", 10_000, 10_000)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def one_sentence(message: str, *mentions: str) -> None:
    assert "\n" not in message and message.endswith(".") and "Traceback" not in message, message
    for m in mentions:
        assert m in message, f"{m!r} not in {message!r}"


# ----------------------------------------------------------------------------- the page


def test_without_a_pix2pix_checkpoint_the_page_says_how_to_train_one(env, models):
    shutil.copy(models["plain"], env / "dcgan-faces.safetensors")  # a noise generator: not offered here
    at = page()
    assert "no pix2pix checkpoint yet" in at.info[0].value and "--recipe pix2pix" in at.info[0].value
    assert "import torch" not in Path(PAGE).read_text()


def test_a_sample_photograph_is_translated_at_once(env, models):
    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    at = page()
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="p2p_ckpt").value == str(env / "pix2pix-grey.safetensors")
    assert any(c.value.startswith("Turns grey into colour, on pairs made from photos") and "shipped demo" in c.value
               for c in at.caption)
    # A photograph it never saw first (china.jpg), as in training by default: shrunk to the scale of the training
    # pictures (a short side of 3 crops), and back.
    assert headings(at) == ["**china.png** · 640 x 427 pixels, translated at 72 x 48"]
    assert captions(at) == ["Your picture", "Grey version: what the model is given", "Output, at the picture's own size",
                            captions(at)[3]]
    assert captions(at)[3].startswith("L1 error against your picture: mean 0.")
    assert [d.proto.label for d in at.get("download_button")] == ["Download (PNG)"]  # one picture: no zip

    at.segmented_control(key="p2p_sample").set_value("coffee")
    at.selectbox(key="p2p_scale").select(1.0).run()
    assert not at.exception
    assert headings(at) == ["**coffee.png** · 600 x 400 pixels"]  # full size: translated as it is
    at.toggle(key="p2p_realism").set_value(True).run()
    assert not at.exception
    assert captions(at)[-1].startswith("Discriminator's realism map: mean ") and "green: looks real" in captions(at)[-1]


def test_uploads_of_any_size_are_translated_and_bad_ones_get_one_sentence_each(env, models):
    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    at = page()
    at.selectbox(key="p2p_scale").select(1.0)
    rgba = np.dstack([photo(50, 70, 1), np.full((50, 70), 128, np.uint8)])
    raw = encoded(photo(200, 300), "JPEG", quality=90)
    at.file_uploader(key="p2p_images").set_value([
        ("holiday.jpg", raw, "image/jpeg"),
        ("fake.png", b"this is no picture", "image/png"),
        ("empty.png", b"", "image/png"),
        ("cut.jpg", raw[: len(raw) // 3], "image/jpeg"),
        ("huge.png", over_limit_png(), "image/png"),
        ("logo.png", encoded(rgba), "image/png"),
    ]).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 4
    for message, name in zip(errors, ("fake.png", "empty.png", "cut.jpg", "huge.png")):
        one_sentence(message, name)
    assert "megapixel limit" in errors[3] and "is empty" in errors[1]
    # The others are still translated, each at its own size, with a download named after it and a zip of all.
    assert headings(at) == ["**holiday.jpg** · 300 x 200 pixels", "**logo.png** · 70 x 50 pixels"]
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Download (PNG)", "Download (PNG)", "Download all 2 translations (zip of PNGs)"]
    runs_dir = env.parent.parent / "runs"
    assert gan_core.settings.load_settings().runs_dir == runs_dir.resolve()
    assert not [p for p in runs_dir.rglob("*") if p.is_file()]  # nothing of the uploads is kept on disk


def test_an_edge_model_shows_the_edge_map_and_takes_a_drawn_one_as_it_is(env, models):
    shutil.copy(models["edges"], env / "pix2pix-edges.safetensors")
    at = page()
    # A face model starts on the astronaut's face, cropped as tightly as the training faces.
    assert headings(at) == ["**astronaut-face.png** · 120 x 120 pixels, translated at 16 x 16"]  # one 16 px training crop
    assert captions(at)[1] == "Edge map: what the model is given"
    at.toggle(key="p2p_no_derive").set_value(True).run()  # the upload already is an edge map
    assert not at.exception
    assert captions(at)[:2] == ["Your picture", "Output, at the picture's own size"]
    assert not any("L1 error" in c for c in captions(at))  # a drawing has no photo to compare with


def test_an_ab_pair_is_split_by_the_models_direction_and_compared_with_its_target(env, models):
    shutil.copy(models["btoa"], env / "pix2pix-pairs.safetensors")
    at = page()
    ab = np.zeros((40, 80, 3), np.uint8)
    ab[:, :40], ab[:, 40:] = (220, 30, 30), (30, 30, 220)
    at.toggle(key="p2p_pair").set_value(True)
    at.file_uploader(key="p2p_images").upload("facade.png", encoded(ab), "image/png").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert headings(at) == ["**facade.png** · 40 x 40 pixels, translated at 16 x 16"]  # one half, at the training crop size
    assert captions(at)[0] == "Source half of the pair" and captions(at)[2] == "Target: the pair's other half"
    assert captions(at)[3].startswith("L1 error against the target")


def test_without_a_discriminator_there_is_no_realism_map_and_the_page_says_so(env, models):
    shutil.copy(models["no-d"], env / "pix2pix-no-d.safetensors")
    at = page()
    assert at.toggle(key="p2p_realism").disabled
    assert any("saved without its discriminator" in c.value for c in at.caption)
    assert not any("realism" in c for c in captions(at))


def test_an_uploaded_pix2pix_checkpoint_is_chosen_and_a_noise_generator_is_refused(env, models):
    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    at = page()
    at.file_uploader(key="p2p_ckpt_upload").upload("dcgan.safetensors", models["plain"].read_bytes()).run()
    assert not at.exception
    one_sentence(at.error[0].value, "dcgan.safetensors", "the Gallery")
    at.file_uploader(key="p2p_ckpt_upload").set_value(("mine.safetensors", models["edges"].read_bytes(), "")).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="p2p_ckpt").value.endswith(".safetensors") and "uploads" in at.selectbox(key="p2p_ckpt").value
    assert captions(at)[1] == "Edge map: what the model is given"


# ----------------------------------------------------------------------------- the handler


def test_the_handler_returns_every_picture_at_its_own_size(models):
    tr = T.load_translator(models["grey"])
    for h, w in ((200, 300), (37, 91), (600, 31)):
        for scale in (1.0, T.AS_TRAINED, 0.5):
            r = translate_upload(tr, encoded(photo(h, w), "JPEG"), "dir/holiday photo.JPG", scale=scale)
            t = r.translation
            assert t.output.shape == (h, w, 3) and t.source.shape == (h, w, 1) and t.error.shape == (h, w)
            assert r.name == "holiday photo.JPG" and r.stem == "holiday_photo"
    shown = for_page(translate_upload(tr, encoded(photo(900, 1200)), "big.png", realism=True))
    assert shown.size == (1200, 900) and max(shown.output.shape[:2]) == 640  # the page gets a light preview
    assert Image.open(io.BytesIO(shown.png)).size == (1200, 900)  # the download is full size
    assert shown.realism.shape[:2] == shown.output.shape[:2] and 0 <= shown.mean_realism <= 1


def test_the_handler_refuses_hostile_files_in_one_sentence_each(models):
    tr = T.load_translator(models["grey"])
    raw = encoded(photo(60, 80), "JPEG")
    cmyk = Image.fromarray(photo(30, 40)).convert("CMYK")
    buf = io.BytesIO()
    cmyk.save(buf, format="JPEG")
    for data, name, mention in ((raw[:200], "cut.jpg", "cannot be read"), (b"", "empty.png", "is empty"),
                                (b"\x89PNG not really", "fake.png", "cannot be read"),
                                (over_limit_png(), "huge.png", "megapixel limit")):
        with pytest.raises(DataError) as e:
            translate_upload(tr, data, name)
        one_sentence(str(e.value), name, mention)
    assert translate_upload(tr, buf.getvalue(), "cmyk.jpg").translation.output.shape == (30, 40, 3)  # CMYK is read, not refused
    with pytest.raises(DataError) as e:  # a "pair" too narrow to split
        translate_upload(tr, encoded(photo(8, 10)), "tiny.png", pair=True)
    one_sentence(str(e.value), "A|B pair", "tiny.png")


def test_downloads_keep_the_inputs_names(models):
    tr = T.load_translator(models["grey"])
    shown = [for_page(translate_upload(tr, encoded(photo(20, 30, s)), n)) for s, n in enumerate(("a.jpg", "b/a.png", "c.webp"))]
    with zipfile.ZipFile(io.BytesIO(results_zip(shown))) as z:
        assert z.namelist() == ["a.png", "a-2.png", "c.png"]
        assert Image.open(z.open("c.png")).size == (30, 20)
    # The page names them as the single download is, after the translator: unzipped beside
    # the photos, no original is overwritten (helper-32).
    with zipfile.ZipFile(io.BytesIO(results_zip(shown, "pix2pix-grey-to-colour-photos"))) as z:
        assert z.namelist() == ["a-pix2pix-grey-to-colour-photos.png", "a-pix2pix-grey-to-colour-photos-2.png",
                                "c-pix2pix-grey-to-colour-photos.png"]
    assert download_stem("../../etc/pass wd.tar.gz") == "pass_wd.tar" and download_stem("...") == "image"


def test_only_translators_are_kept_by_the_translator_upload(models, tmp_path):
    """uploads.save_translator_upload: the one checked door for checkpoints, keeping pix2pix
    only; noise generators are pointed to their own pages, and nothing refused is kept."""
    with pytest.raises(CheckpointError) as e:
        uploads.save_translator_upload(models["plain"].read_bytes(), "faces.safetensors", tmp_path)
    one_sentence(str(e.value), "faces.safetensors is a dcgan generator", "the Gallery")
    with pytest.raises(CheckpointError) as e:
        uploads.save_translator_upload(models["cgan"].read_bytes(), "digits.safetensors", tmp_path)
    one_sentence(str(e.value), "cgan", "Conditional generation")
    with pytest.raises(CheckpointError):
        uploads.save_translator_upload(b"nonsense", "junk.safetensors", tmp_path)
    assert not list(tmp_path.rglob("*.safetensors"))
    assert uploads.save_translator_upload(models["no-d"].read_bytes(), "g.safetensors", tmp_path).is_file()
    # ...and the Conditional page sends a translator here.
    with pytest.raises(CheckpointError) as e:
        uploads.save_conditional_upload(models["grey"].read_bytes(), "p2p.safetensors", tmp_path / "other")
    one_sentence(str(e.value), "p2p.safetensors is a pix2pix model", "Pix2Pix")


# ----------------------------------------------------------------------------- issue 17: every request has a budget


def test_a_nul_or_a_3000_character_name_is_one_sentence_and_the_others_are_translated(env, models):
    """Before: Streamlit refused the whole uploader ("Filename cannot contain null bytes"),
    so one such name stopped all ten; a 3,000-character name went through unremarked."""
    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    at = page()
    files = [(f"photo{i}.png", encoded(photo(12, 16, i)), "image/png") for i in range(8)]
    files.insert(3, ("evil\x00.png", encoded(photo(12, 16)), "image/png"))
    files.insert(6, ("y" * 3000 + ".png", encoded(photo(12, 16)), "image/png"))
    at.file_uploader(key="p2p_images").set_value(files).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 2
    one_sentence(errors[0], "evil?.png", "control character")
    one_sentence(errors[1], "yyy", "3,004 characters")
    assert [h.split("**")[1] for h in headings(at)] == [f"photo{i}.png" for i in range(8)]


def test_the_pictures_of_one_request_are_limited_by_the_engine(env, models, monkeypatch):
    from gan_core import untrusted

    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    monkeypatch.setattr(untrusted, "MAX_PICTURES", 3)
    monkeypatch.setattr(untrusted, "MAX_DEMO_PICTURES", 2)
    files = [(f"p{i}.png", encoded(photo(12, 16, i)), "image/png") for i in range(5)]
    at = page()
    at.file_uploader(key="p2p_images").set_value(files).run()
    assert not at.exception
    one_sentence(at.warning[0].value, "first 3 of your 5 pictures", "the other 2 in another batch")
    assert [h.split("**")[1] for h in headings(at)] == ["p0.png", "p1.png", "p2.png"]
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    at = page()
    at.file_uploader(key="p2p_images").set_value(files).run()
    assert not at.exception
    one_sentence(at.warning[0].value, "first 2 of your 5 pictures", "demo server")
    assert len(headings(at)) == 2


def test_toggling_the_realism_map_off_and_on_translates_nothing_again(env, models, monkeypatch):
    """Before: 16 results were kept, so with more pictures every rerun translated them all again."""
    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    calls = []
    real = T.translate_picture
    monkeypatch.setattr(T, "translate_picture", lambda *a, **kw: calls.append(kw.get("realism")) or real(*a, **kw))
    at = page()
    calls.clear()  # the sample photograph, translated before any upload
    files = [(f"p{i}.png", encoded(photo(12, 16, i)), "image/png") for i in range(12)]
    at.file_uploader(key="p2p_images").set_value(files).run()
    assert calls.count(False) == 12 and len(headings(at)) == 12
    at.toggle(key="p2p_realism").set_value(True).run()
    assert calls.count(True) == 12 and sum("realism map" in c for c in captions(at)) == 12
    for value in (False, True, False):
        at.toggle(key="p2p_realism").set_value(value).run()
        assert not at.exception
        assert sum("realism map" in c for c in captions(at)) == (12 if value else 0)
    assert len(calls) == 24  # every setting already computed came from the kept results


def test_kept_results_are_png_bytes_bounded_in_total():
    from pages.common.shared import ResultCache, Shown, cached_result

    def result(n: int) -> Shown:
        return Shown(name="x", stem="x", size=(1, 1), work_size=None, pngs={"output": b"p" * n}, mean_error=None,
                     mean_realism=None, png=b"f" * n)

    cache = ResultCache(max_bytes=10_000)
    for i in range(20):
        cache.put(i, result(1000))
        assert cache.nbytes <= 10_000
    assert len(cache) == 10_000 // result(1000).nbytes and cache.get(0) is None and cache.get(19) is not None  # the oldest went first
    cache.put("huge", result(4000))  # more than half the bound: shown, not kept
    assert cache.get("huge") is None
    made = []
    first = cached_result(cache, ("a",), True, lambda: made.append(1) or result(10))
    assert cached_result(cache, ("a",), True, lambda: made.append(1)) is first
    assert cached_result(cache, ("a",), False, lambda: made.append(1)).pngs == first.pngs  # the map changes nothing else
    assert made == [1]


def test_a_translation_is_kept_as_pngs_not_arrays(models):
    tr = T.load_translator(models["grey"])
    shown = for_page(translate_upload(tr, encoded(photo(1200, 1600)), "big.png", realism=True))
    assert not [k for k, v in vars(shown).items() if isinstance(v, np.ndarray)]
    assert set(shown.pngs) == {"image", "source", "output", "error", "realism"}
    assert shown.nbytes < 12 * 2**20 and shown.output.shape[:2] == (480, 640)  # arrays only when asked for


def test_the_uploader_says_the_limits_the_engine_holds(env, models, monkeypatch):
    """Names of a few thousand characters never reach the page (Streamlit's upload answers 400), so
    the uploader's help says what the engine allows and what a failed upload means."""
    from gan_core import untrusted

    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    help_text = page().get("file_uploader")[-1].proto.help
    assert f"Up to {untrusted.MAX_PICTURES} pictures" in help_text and "at most 255 characters" in help_text
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    assert f"Up to {untrusted.MAX_DEMO_PICTURES} pictures" in page().get("file_uploader")[-1].proto.help


# ------------------------------------------------------------- issue #21: what to expect, samples, download names


def test_the_samples_say_seen_or_never_seen_and_the_never_seen_come_first(env, models):
    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")  # trained on scikit-image's photos
    at = page()
    control = at.segmented_control(key="p2p_sample")
    assert list(control.options)[:3] == ["china (never seen)", "flower (never seen)", "grace hopper (never seen)"]
    assert list(control.options)[3:] == ["astronaut (seen in training)", "astronaut's face (seen in training)",
                                         "coffee (seen in training)", "chelsea (seen in training)"]
    assert control.value == "china"


def test_each_translator_says_what_it_learned_from_for_how_long_and_what_to_expect(env, models):
    shutil.copy(models["edges"], env / "pix2pix-edges.safetensors")
    at = page()
    line = [i.value for i in at.info if i.value.startswith("Trained on")]
    assert line == ["Trained on 100 grey 25x25 face crops from Labeled Faces in the Wild, bundled with scikit-image "
                    "(faces-lfw), at 16 px, for 2 steps of 8 crops: expect a blurred picture of the kind it learned "
                    "(a face for the faces demo) drawn along the edges, not a photograph."]
    # Every sample is one this face model never saw; the face comes first for a face model.
    assert all(o.endswith("(never seen)") for o in at.segmented_control(key="p2p_sample").options)


def test_two_translators_results_of_one_picture_download_under_different_names(env, models, monkeypatch):
    from streamlit.delta_generator import DeltaGenerator

    names = []
    original = DeltaGenerator.download_button

    def recording(self, label, data, file_name=None, *args, **kwargs):
        names.append(file_name)
        return original(self, label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    shutil.copy(models["no-d"], env / "pix2pix-grey-no-d.safetensors")
    at = page()
    first = names[-1]
    other = next(k for k in at.selectbox(key="p2p_ckpt").options if k != at.selectbox(key="p2p_ckpt").value)
    at.selectbox(key="p2p_ckpt").set_value(other).run()
    assert not at.exception
    second = names[-1]
    assert sorted([first, second]) == ["china-pix2pix-grey-no-d.png", "china-pix2pix-grey.png"]  # the same sample, china



def test_the_colour_strength_starts_at_the_files_default_and_moving_it_changes_the_output(env, models):
    shutil.copy(models["lab"], env / "pix2pix-lab.safetensors")
    at = page()
    slider = at.slider(key=f"p2p_strength_{env / 'pix2pix-lab.safetensors'}")
    assert slider.value == pytest.approx(0.4)  # the strength chosen on validation, carried by the file
    assert list(at.segmented_control(key="p2p_sample").options) == [  # chelsea is a validation photograph: never trained on
        "china (never seen)", "flower (never seen)", "grace hopper (never seen)", "chelsea (never seen)",
        "astronaut (seen in training)", "astronaut's face (seen in training)", "coffee (seen in training)"]

    def output_url():
        return next(img.url for el in at.get("image") for img in el.proto.imgs if img.caption.startswith("Output"))

    coloured = output_url()
    slider.set_value(0.0).run()
    assert not at.exception
    grey = output_url()
    assert grey != coloured
    slider.set_value(1.0).run()
    assert output_url() not in (grey, coloured)


def test_another_translator_starts_at_its_own_default_scale(env, models):
    """12.5% chosen for one model stayed on for the next, giving a 25 x 25 smear (helper-32)."""
    shutil.copy(models["grey"], env / "pix2pix-grey.safetensors")
    shutil.copy(models["edges"], env / "pix2pix-edges.safetensors")
    at = page()
    default = at.selectbox(key="p2p_scale").value
    at.selectbox(key="p2p_scale").select(1.0).run()
    assert at.selectbox(key="p2p_ckpt").value == str(env / "pix2pix-grey.safetensors")
    at.selectbox(key="p2p_ckpt").set_value(str(env / "pix2pix-edges.safetensors")).run()
    assert not at.exception and at.selectbox(key="p2p_ckpt").value == str(env / "pix2pix-edges.safetensors")
    assert at.selectbox(key="p2p_scale").value == default != 1.0
