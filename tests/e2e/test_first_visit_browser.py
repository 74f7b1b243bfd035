"""A newcomer's first visit in Chromium (issue #21): no page asks a host other than
this server for anything (the tab's icon came from fonts.gstatic.com, which fails
offline), and the Train page's quick-start buttons show their whole labels at
1,400 px ("A ring of 8 poi…" before)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

# Whether a button's label is cut off (ellipsis): its text is wider than the box it is shown in.
CUT_OFF = """els => els.map(b => { const t = b.querySelector('p') || b;
                                  return [t.innerText, t.scrollWidth > t.clientWidth + 1]; })"""


def test_no_outside_host_and_whole_quick_start_labels(server, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(90_000)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        (server.url, "http://localhost", "http://127.0.0.1", "ws://", "data:", "blob:")) else None)
    try:
        page.goto(server.url + "/")
        page.get_by_text("New to GANs").wait_for()
        page.get_by_role("link", name="Train").click()
        page.get_by_role("button", name="Start training").wait_for()
        buttons = page.locator("button", has_text="Handwritten digits").or_(page.locator("button", has_text="A ring of 8"))
        buttons.first.wait_for()
        labels = buttons.evaluate_all(CUT_OFF)
        assert {text for text, _ in labels} == {"A ring of 8 points (2-D)", "Handwritten digits"}, labels
        assert not any(cut for _, cut in labels), labels
        page.get_by_role("link", name="Conditional generation").click()
        page.get_by_role("heading", name="Conditional generation").wait_for()
        page.wait_for_load_state("networkidle")
        assert outside == []
    except BaseException:
        page.screenshot(path=screenshots / "first-visit-failure.png", full_page=True)
        print(f"\nserver log tail:\n{server.log.read_text()[-2000:]}")
        raise
