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


def _flow(page, server, screenshots, upload, tmp_path):
    page.goto(server.url + "/")
    page.get_by_role("link", name="Pix2Pix: translate images").click()
    page.wait_for_url("**/pix2pix*")
    main = page.locator(MAIN)
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
