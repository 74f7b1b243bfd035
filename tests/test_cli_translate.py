"""``python -m gan_core translate`` offers what the Pix2Pix page offers, through the same
function (translate.translate_picture): A|B pairs (--pairs), the page's scales
(--scale, "as-trained" by default), the input the model is given (--model-input) and
the realism map (--realism-map). A real
subprocess for the happy path, ``main()`` in-process for every error a user can cause."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import RED, ROOT, ab_pair, generator_only, smooth_photo, tiny
from gan_core.cli import main
from gan_core.recipes import resolve
from gan_core.runs import create_run
from gan_core.training import train

photo = smooth_photo


def save(image: np.ndarray, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Tiny checkpoints (16 px crops, 2 steps): grey -> colour on photos, pairs from disk
    translated B -> A, and the grey one saved without its discriminator."""
    root = tmp_path_factory.mktemp("cli-translate")
    for i in range(4):
        save(ab_pair(), root / "pairs" / f"{i}.png")
    out = {}
    for name, cfg in (("grey", tiny("pix2pix", "photos", **{"data.pairs": "grey", "data.limit": 16})),
                      ("btoa", tiny("pix2pix", "paired", **{"data.path": str(root / "pairs"), "data.direction": "BtoA"}))):
        cfg = resolve(cfg)
        run_dir = create_run(cfg, root / "runs")
        assert train(cfg, run_dir)["state"] == "finished"
        out[name] = run_dir / "checkpoints" / "last.safetensors"
    out["no-d"] = generator_only(out["grey"], root / "g-only.safetensors")
    return out


def one_error_line(capsys, code: int, *argv) -> str:
    """Run ``translate`` in-process; it must fail with ``code`` and exactly one ``error:`` line, no traceback."""
    assert main(["translate", *map(str, argv)]) == code
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.startswith("error: ") and "\n" not in err, err
    return err


def rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# ----------------------------------------------------------------------------- the happy path


def test_pairs_and_the_realism_map_in_a_real_process(ckpts, tmp_path):
    pair = save(ab_pair(30, 40), tmp_path / "in" / "facade.png")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "gan_core", "translate", str(ckpts["btoa"]), str(pair), "--out", str(out),
                        "--pairs", "--realism-map", "--scale", "full"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["facade-realism.png", "facade-target.png", "facade.png"]
    assert rgb(out / "facade.png").shape == (30, 40, 3)  # the source half's size, not the pair's
    assert (rgb(out / "facade-target.png") == RED).all()  # B -> A: the target is the left half
    realism = rgb(out / "facade-realism.png")
    assert realism.shape == (30, 40, 3) and realism.std() > 0
    line = r.stdout.strip().splitlines()[-1]
    # Long paths are shortened from the left when printed, so only the end is certain.
    assert "facade.png -> " in line and "facade-target.png" in line and "facade-realism.png" in line
    assert "L1 error 0." in line and "against the target half" in line and "realism 0." in line


def test_the_error_reported_is_the_pairs(ckpts, tmp_path, capsys):
    from gan_core import translate as T

    pair = save(ab_pair(), tmp_path / "p.png")
    assert main(["translate", str(ckpts["btoa"]), str(pair), "--out", str(tmp_path / "o"), "--pairs", "--scale", "full"]) == 0
    expected = T.translate_picture(T.load_translator(ckpts["btoa"]), ab_pair(), pair=True, scale=1.0).mean_error
    assert f"L1 error {expected:.3f} against the target half" in capsys.readouterr().out


def test_scales_as_on_the_page_with_as_trained_by_default(ckpts, tmp_path, capsys):
    picture = save(photo(120, 90), tmp_path / "in" / "big.png")
    seen = {}
    for flags in ([], ["--scale", "as-trained"], ["--scale", "full"], ["--scale", "0.5"], ["--scale", "0.125"]):
        out = tmp_path / ("out" + "-".join(flags))
        assert main(["translate", str(ckpts["grey"]), str(picture), "--out", str(out), *flags]) == 0
        seen[" ".join(flags)] = capsys.readouterr().out.strip().splitlines()[-1]
        assert np.asarray(Image.open(out / "big.png")).shape == (120, 90, 3)  # every output keeps the picture's size
    # as trained on photos: a short side of 3 crops of 16 px, 48 of the picture's 90
    assert "90 x 120; translated at 48 x 64" in seen[""] and seen[""].endswith(seen["--scale as-trained"].split(" -> ")[1])
    assert "translated at" not in seen["--scale full"]
    assert "translated at 45 x 60" in seen["--scale 0.5"] and "translated at 11 x 15" in seen["--scale 0.125"]
    assert "L1 error 0." in seen[""] and "against the picture" in seen[""]  # grey -> colour: the picture is the target


def test_the_model_input_is_the_derived_one(ckpts, tmp_path, capsys):
    from gan_core.data.paired import to_grey

    picture = photo(30, 40)
    path = save(picture, tmp_path / "in" / "x.png")
    out = tmp_path / "out"
    assert main(["translate", str(ckpts["grey"]), str(path), "--out", str(out), "--model-input", "--scale", "full"]) == 0
    assert "x-input.png beside it" in capsys.readouterr().out
    given = np.asarray(Image.open(out / "x-input.png"))
    assert given.shape == (30, 40) and np.array_equal(given, to_grey(picture)[..., 0])  # the grey version it was given
    assert main(["translate", str(ckpts["grey"]), str(path), "--out", str(tmp_path / "drawn"), "--model-input", "--no-derive",
                 "--scale", "full"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "drawn" / "x-input.png")), to_grey(picture)[..., 0])


# ----------------------------------------------------------------------------- what a user can get wrong


@pytest.mark.parametrize("scale", ["huge", "0", "-0.5", "5", "nan"])
def test_a_scale_that_makes_no_sense_is_one_error_line(ckpts, tmp_path, capsys, scale):
    picture = save(photo(20, 20), tmp_path / "x.png")
    err = one_error_line(capsys, 2, ckpts["grey"], picture, "--out", tmp_path / "o", "--scale", scale)
    assert "as-trained" in err and "at most 4" in err and not (tmp_path / "o").exists()


def test_a_realism_map_without_a_discriminator_is_one_error_line(ckpts, tmp_path, capsys):
    picture = save(photo(20, 20), tmp_path / "x.png")
    err = one_error_line(capsys, 2, ckpts["no-d"], picture, "--out", tmp_path / "o", "--realism-map")
    assert "g-only.safetensors has no discriminator" in err and not (tmp_path / "o").exists()
    assert main(["translate", str(ckpts["no-d"]), str(picture), "--out", str(tmp_path / "o")]) == 0  # without it: translated


def test_a_picture_that_is_no_pair_gets_its_line_and_the_others_are_translated(ckpts, tmp_path, capsys):
    narrow = save(photo(10, 12), tmp_path / "in" / "narrow.png")
    good = save(ab_pair(), tmp_path / "in" / "good.png")
    out = tmp_path / "out"
    assert main(["translate", str(ckpts["btoa"]), str(narrow), str(good), "--out", str(out), "--pairs"]) == 1
    cap = capsys.readouterr()
    errors = [line for line in cap.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in cap.err
    assert "narrow.png is only 12 x 10 pixels" in errors[0] and "A|B pair" in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["good-target.png", "good.png"]


def test_outputs_never_overwrite_each_other_or_an_input(ckpts, tmp_path, capsys):
    a = save(ab_pair(), tmp_path / "in" / "a.png")
    a_target = save(ab_pair(), tmp_path / "in" / "a-target.png")
    out = tmp_path / "out"
    # a.png's target would be out/a-target.png, the translation of the input a-target.png
    assert main(["translate", str(ckpts["btoa"]), str(a), str(a_target), "--out", str(out), "--pairs"]) == 1
    err = capsys.readouterr().err
    assert err.count("error: ") == 1 and "a-target.png would be written for both" in err
    # into the inputs' own folder: a.png's own translation would replace it
    before = a.read_bytes(), a_target.read_bytes()
    assert main(["translate", str(ckpts["btoa"]), str(a), "--out", str(tmp_path / "in"), "--pairs"]) == 1
    assert "a.png would be overwritten by its own translation" in capsys.readouterr().err
    # b.png's target would replace the input b-target.png, which is translated after it
    b = save(ab_pair(), tmp_path / "elsewhere" / "b.png")
    b_target = save(ab_pair(), tmp_path / "in" / "b-target.png")
    assert main(["translate", str(ckpts["btoa"]), str(b), str(b_target), "--out", str(tmp_path / "in"), "--pairs"]) == 1
    err = capsys.readouterr().err
    assert err.count("error: ") == 2 and "b-target.png, which is one of the inputs" in err
    assert (a.read_bytes(), a_target.read_bytes()) == before and not (tmp_path / "in" / "b.png").exists()


def test_a_folder_given_as_an_input_is_said_to_be_a_folder(ckpts, tmp_path, capsys):
    (tmp_path / "scans").mkdir()
    assert main(["translate", str(ckpts["grey"]), str(tmp_path / "scans"), "--out", str(tmp_path / "out")]) == 1
    first, summary = capsys.readouterr().err.strip().splitlines()
    assert first.startswith(f"error: {tmp_path / 'scans'} is a folder; give the image files in it (for example ")
    assert summary.startswith("1 of 1 image(s) failed")


def test_a_bad_memory_setting_is_said_once_before_any_picture(ckpts, tmp_path, capsys, monkeypatch):
    for i in range(3):
        save(ab_pair(), tmp_path / f"{i}.png")
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "lots")
    err = one_error_line(capsys, 2, ckpts["grey"], *(tmp_path / f"{i}.png" for i in range(3)), "--out", tmp_path / "out")
    assert err == "error: Environment variable GAN_WORKBENCH_MEMORY_BUDGET must be a whole number, not 'lots'."
    assert not (tmp_path / "out").exists()
