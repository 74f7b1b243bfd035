"""End to end in a real browser: open the Pix2Pix page from the sidebar, see a sample
photograph translated at once, upload a real photo (a JPEG of scikit-image's astronaut,
cropped to 512 x 384) through the file chooser, and download its translation: a PNG
named after the upload, at the upload's own size.

The page uses the shipped pix2pix demo when there is one; a tiny run trained here
(16 px crops, 2 steps) makes sure there is always a translator to choose.
Screenshots go to tests/e2e/screenshots/ (git-ignored).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.e2e

MAIN = "[data-testid='stMain']"


@pytest.fixture
def translator_run(server):
    from gan_core.config import Config
    from gan_core.recipes import resolve
    from gan_core.runs import create_run
    from gan_core.training import train

    cfg = resolve(Config(recipe="pix2pix").replace(**{
        "data.name": "photos", "data.pairs": "grey", "data.limit": 16, "data.image_size": 16, "model.width": 8,
        "train.steps": 2, "train.batch_size": 8, "train.sample_every": 2, "train.checkpoint_every": 2,
        "train.n_samples": 6, "train.device": "cpu"}))
    run_dir = create_run(cfg, server.runs_dir)
    assert train(cfg, run_dir)["state"] == "finished"
    return run_dir


def test_upload_a_photo_and_download_its_translation(server, browser, translator_run, screenshots, tmp_path):
    from skimage import data

    upload = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()[:384]).save(upload, quality=90)  # 512 wide, 384 high: not square
    page = browser.new_page(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
    page.set_default_timeout(90_000)
    try:
        _flow(page, server, screenshots, upload, tmp_path)
    except BaseException:
        page.screenshot(path=screenshots / "pix2pix-failure.png", full_page=True)
        print(f"\nserver log tail:\n{server.log.read_text()[-2000:]}")
        raise


def _full_page(page, path) -> None:
    """Streamlit scrolls its main block, not the document: grow the viewport to the content first."""
    height = page.evaluate("document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1400, int(height) + 80)})
    page.wait_for_timeout(500)
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1400})


def _open_pix2pix(page, server):
    """The Pix2Pix page, opened from the sidebar as a visitor does; its main block."""
    page.goto(server.url + "/")
    page.get_by_role("link", name="Pix2Pix: translate images").click()
    page.wait_for_url("**/pix2pix*")
    return page.locator(MAIN)


def _flow(page, server, screenshots, upload, tmp_path):
    main = _open_pix2pix(page, server)
    # No upload yet: a sample photograph is translated at once, one the model never saw first.
    main.get_by_text("china.png · 640 x 427 pixels").wait_for()
    main.get_by_text("Output, at the picture's own size").wait_for()
    assert main.locator("[data-testid='stImage'] img").count() >= 3  # picture, derived input, output
    _full_page(page, screenshots / "pix2pix-1-sample.png")

    uploader = main.locator("[data-testid='stFileUploader']").filter(has_text="Pictures to translate")
    uploader.locator("input[type='file']").set_input_files(upload)
    main.get_by_text("astronaut.jpg · 512 x 384 pixels").wait_for()
    main.get_by_text("china.png · 640 x 427").wait_for(state="detached")  # the upload replaces the samples
    _full_page(page, screenshots / "pix2pix-2-uploaded.png")

    with page.expect_download() as info:
        main.get_by_role("button", name="Download (PNG)").click()
    download = info.value
    assert download.suggested_filename == "astronaut-pix2pix-grey-to-colour-photos.png"  # the picture's and the translator's names
    saved = tmp_path / "downloaded.png"
    download.save_as(saved)
    with Image.open(io.BytesIO(saved.read_bytes())) as out:
        assert out.format == "PNG" and out.size == (512, 384), (out.format, out.size)



def _choose_checkpoint(page, main, turns: str) -> None:
    """Pick the translator that turns ``turns`` (``PairKind.turns``) from the "Checkpoint"
    menu, and wait for the page to describe it ("Turns ... into ...")."""
    menu = main.locator("[data-testid='stSelectbox']").filter(has_text="Checkpoint")
    menu.click()
    menu.locator("input").fill(turns)  # the menu filters its options as a visitor types
    page.keyboard.press("Enter")
    main.get_by_text(f"Turns {turns}").wait_for()


def _download(page, main, path) -> Image.Image:
    with page.expect_download() as info:
        main.get_by_role("button", name="Download (PNG)").click()
    info.value.save_as(path)
    with Image.open(path) as out:
        out.load()
        return out


def _download_once_redrawn(page, main, path, redrawn, timeout: float = 60) -> np.ndarray:
    """The page's download as RGB once ``redrawn(picture)`` holds. The slider's new value shows
    in the browser before the server has rerun the page, and on a busy machine the rerun (its
    status widget) may not have begun when the test looks, so the old output would still be
    served: download until the rerun's picture is there, or the time is up."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        picture = np.asarray(_download(page, main, path).convert("RGB"))
        if redrawn(picture) or time.monotonic() > deadline:
            return picture
        page.wait_for_timeout(500)


def test_make_it_4x_larger_and_move_the_colour_strength(server, browser, screenshots, tmp_path):
    """Issue #18 in Chromium, with the shipped translators: a small photo uploaded, "Make
    it 4x larger" pressed, and the PNG downloaded is 4x its width and height; then the
    Lab colouriser on the same upload: moving the colour strength changes the output,
    and at 0 it is the grey picture itself (every pixel's R, G and B equal)."""
    from pathlib import Path

    from gan_core.data.builtin import held_out_photos

    shipped = Path(__file__).resolve().parents[2] / "checkpoints"
    needed = ("pix2pix-super-resolution-photos.safetensors", "pix2pix-grey-to-colour-photos.safetensors")
    if not all((shipped / n).is_file() for n in needed):
        pytest.skip(f"the shipped translators {needed} are missing")
    upload = tmp_path / "small-flower.png"
    Image.fromarray(held_out_photos()["flower.jpg"][160:232, 240:336]).save(upload)  # 96 x 72, never trained on
    page = browser.new_page(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
    page.set_default_timeout(90_000)
    try:
        main = _open_pix2pix(page, server)
        _choose_checkpoint(page, main, "pictures enlarged 4x into sharp ones")
        main.locator("[data-testid='stFileUploader']").filter(has_text="Pictures to translate").locator(
            "input[type='file']").set_input_files(upload)
        main.get_by_text("small-flower.png · 96 x 72 pixels").wait_for()
        main.get_by_text("Make it 4x larger").click()
        main.get_by_text("small-flower.png · 96 x 72 → 384 x 288 pixels").wait_for()  # what was sent, what comes back
        main.get_by_text("Output, 4x your picture's size").wait_for()
        _full_page(page, screenshots / "pix2pix-3-4x-larger.png")
        enlarged = _download(page, main, tmp_path / "enlarged.png")
        assert enlarged.format == "PNG" and enlarged.size == (384, 288), enlarged.size

        _choose_checkpoint(page, main, "grey into colour, keeping its lightness")
        main.get_by_text("small-flower.png · 96 x 72 pixels").wait_for()  # the same upload, at its own size
        by_default = np.asarray(_download(page, main, tmp_path / "default.png").convert("RGB"))
        slider = main.locator("[data-testid='stSlider']").filter(has_text="Colour strength").get_by_role("slider")
        slider.focus()
        slider.press("End")  # strength 1: the model's colour wherever it is sure
        main.locator("[data-testid='stSlider']").filter(has_text="1.00").wait_for()
        page.wait_for_timeout(500)
        main.locator("[data-testid='stStatusWidget']").wait_for(state="detached")
        _full_page(page, screenshots / "pix2pix-4-colour-strength-1.png")
        strong = _download_once_redrawn(page, main, tmp_path / "strong.png", lambda p: p.shape != by_default.shape or
                                        np.abs(p.astype(int) - by_default.astype(int)).mean() > 0.5)
        assert strong.shape == by_default.shape == (72, 96, 3)
        assert np.abs(strong.astype(int) - by_default.astype(int)).mean() > 0.5  # moving the strength changes the output
        slider.focus()
        slider.press("Home")  # strength 0: the grey picture, exactly
        main.locator("[data-testid='stSlider']").filter(has_text="0.00").wait_for()
        page.wait_for_timeout(500)
        main.locator("[data-testid='stStatusWidget']").wait_for(state="detached")
        grey = _download_once_redrawn(page, main, tmp_path / "grey.png",
                                      lambda p: (p[..., 0] == p[..., 1]).all() and (p[..., 1] == p[..., 2]).all())
        assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
        assert not ((by_default[..., 0] == by_default[..., 1]).all() and (by_default[..., 1] == by_default[..., 2]).all())
    except BaseException:
        page.screenshot(path=screenshots / "pix2pix-4x-failure.png", full_page=True)
        print(f"\nserver log tail:\n{server.log.read_text()[-2000:]}")
        raise
