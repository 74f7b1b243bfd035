"""End to end in a real browser: open the Conditional generation page from the
sidebar with the shipped cgan demo, pick class 7, and see the class grid redrawn
for it (a new image, captioned with class 7) while the rows-per-class grid stays.

Screenshots go to tests/e2e/screenshots/ (git-ignored).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

MAIN = "[data-testid='stMain']"
IMAGE = "[data-testid='stImage']"


def test_pick_a_class_and_see_its_grid(server, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(90_000)
    try:
        _flow(page, screenshots, server)
    except BaseException:
        page.screenshot(path=screenshots / "conditional-failure.png", full_page=True)
        print(f"\nserver log tail:\n{server.log.read_text()[-2000:]}")
        raise


def _grid(page, n: int) -> tuple[str, str]:
    """(src, caption) of the n-th image on the page."""
    image = page.locator(f"{MAIN} {IMAGE}").nth(n)
    return image.locator("img").get_attribute("src"), image.inner_text()


def _full_page(page, path) -> None:
    """Streamlit scrolls its main block, not the document: grow the viewport to the content first."""
    height = page.evaluate("document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1400, int(height) + 80)})
    page.wait_for_timeout(500)
    page.screenshot(path=path, full_page=True)


def _flow(page, screenshots, server):
    page.goto(server.url + "/")
    page.get_by_role("link", name="Conditional generation").click()
    page.wait_for_url("**/conditional*")
    main = page.locator(MAIN)
    main.get_by_text("32 samples of class 0 (seed 0)").wait_for()
    main.get_by_text("Top to bottom: class 0, 1, 2, 3, 4, 5, 6, 7, 8, 9").wait_for()
    assert "shipped demo checkpoint" in main.inner_text()
    before, before_caption = _grid(page, 0)
    rows_before, _ = _grid(page, 1)
    assert "class 0" in before_caption
    _full_page(page, screenshots / "conditional-1-class-0.png")

    select = main.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text("Class", exact=True))
    select.click()
    page.get_by_role("option", name="7", exact=True).click()
    main.get_by_text("32 samples of class 7 (seed 0)").wait_for()
    page.wait_for_function(
        "([sel, old]) => { const img = document.querySelector(sel); return img && img.src && !img.src.endsWith(old); }",
        arg=[f"{MAIN} {IMAGE} img", before.rsplit("/", 1)[-1]])
    after, after_caption = _grid(page, 0)
    assert after != before, "picking class 7 redraws the class grid"
    assert "class 7" in after_caption and "class 0" not in after_caption
    rows_after, _ = _grid(page, 1)
    assert rows_after == rows_before, "the rows-per-class grid does not depend on the picked class"
    _full_page(page, screenshots / "conditional-2-class-7.png")
