"""Each private Streamlit and Plotly behaviour pages/common/streamlit_internals.py relies on,
checked on the installed versions: an upgrade that changes one fails here, by name,
instead of in a visitor's browser."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pages.common import streamlit_internals as internals  # noqa: E402


def test_the_legacy_pages_flag_is_a_class_attribute_that_navigation_turns_off(tmp_path, monkeypatch):
    from streamlit.runtime.pages_manager import PagesManager

    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    assert "uses_pages_directory" in vars(PagesManager), "the flag lives on the class, shared by every session"
    (tmp_path / "pages").mkdir()
    PagesManager(str(tmp_path / "app.py"))  # a server whose main script has a pages/ folder beside it
    assert PagesManager.uses_pages_directory is True and internals.uses_pages_directory()

    def app():
        import streamlit as st
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = True  # a server started in legacy mode, until app.py runs
        st.navigation([st.Page(lambda: st.write("hello"), title="one")]).run()

    at = AppTest.from_function(app)
    at.run()
    assert not at.exception
    assert PagesManager.uses_pages_directory is False and not internals.uses_pages_directory(), \
        "st.navigation switches the server out of legacy mode"


def test_a_fragment_knows_whether_its_timer_or_the_page_ran_it(monkeypatch):
    def app():
        import streamlit as st

        from pages.common.streamlit_internals import fragment_rerun

        st.session_state.setdefault("seen", []).append(("page", fragment_rerun()))

        @st.fragment(run_every=10)
        def part():
            st.session_state["seen"].append(("fragment", fragment_rerun()))

        part()

    at = AppTest.from_function(app)
    at.run()
    assert at.session_state["seen"] == [("page", False), ("fragment", False)], "a full run of the page"
    (fragment,) = at._fragment_storage._fragments
    # A timer's rerun: the runner is asked for the fragment alone, as the browser asks it
    # (AppTest itself only makes full runs).
    import streamlit.testing.v1.local_script_runner as local

    full = local.RerunData
    monkeypatch.setattr(local, "RerunData", lambda **kw: full(**kw, fragment_id_queue=[fragment]))
    at.run()
    assert at.session_state["seen"][2:] == [("fragment", True)], "the fragment alone, and it knows"
    assert internals.fragment_rerun() is False, "outside any script run"


def test_the_xsrf_cookie_streamlit_sets_parses_to_its_token_and_stays_put():
    from streamlit.web.server.starlette import starlette_app_utils as server
    from streamlit.web.server.starlette.starlette_server_config import XSRF_COOKIE_NAME

    assert XSRF_COOKIE_NAME == internals.XSRF_COOKIE
    token = bytes(range(16))
    first = server.generate_xsrf_token_string(token)  # as the server sets it: a fresh mask on every response
    second = server.generate_xsrf_token_string(*server.decode_xsrf_token_string(first))
    assert first != second, "the cookie's text changes with every response"
    assert internals.xsrf_secret(first) == internals.xsrf_secret(second) == token.hex(), "the browser's one secret"
    other = server.generate_xsrf_token_string()
    assert internals.xsrf_secret(other) == server.decode_xsrf_token_string(other)[0].hex() != token.hex()


@pytest.mark.parametrize("cookie", ["", "garbage", "1|00|00|1", "2|zz|00|1", "2|0011|" + "00" * 16 + "|1", "2|00112233|0011|1",
                                    None, "2|00112233|" + "00" * 16])
def test_anything_else_in_the_cookie_is_no_secret(cookie):
    assert internals.xsrf_secret(cookie) is None


def test_a_figure_built_without_validation_equals_the_validated_one():
    spec = {"data": [{"type": "scatter", "mode": "lines", "x": [0, 1, 2], "y": [1, 0, 1], "name": "D(x)", "xaxis": "x2",
                      "yaxis": "y3", "line": {"color": "#1f77b4", "dash": "dash"}, "hoverinfo": "skip"}],
            "layout": {"height": 300, "xaxis2": {"domain": [0.5, 1], "anchor": "y3"}, "yaxis3": {"anchor": "x2", "range": [0, 1]},
                       "showlegend": False, "uirevision": "keep"}}
    import plotly.graph_objects as go

    fast = internals.unvalidated_figure(spec)
    assert fast.to_plotly_json() == go.Figure(spec).to_plotly_json()
    with pytest.raises(ValueError):
        go.Figure({"data": [{"type": "scatter", "colour": "red"}]})  # what validation costs buys this error...
    internals.unvalidated_figure({"data": [{"type": "scatter", "colour": "red"}]})  # ...which the fast path skips


def test_equal_charts_in_one_run_clash_and_numbered_ones_do_not():
    def app(number: bool):
        import plotly.graph_objects as go
        import streamlit as st

        from pages.common.streamlit_internals import numbered

        for i in range(2):
            fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
            st.plotly_chart(numbered(fig, i) if number else fig)

    clash = AppTest.from_function(app, kwargs={"number": False})
    clash.run()
    assert clash.exception and "multiple `plotly_chart` elements with the same auto-generated ID" in clash.exception[0].value
    fine = AppTest.from_function(app, kwargs={"number": True})
    fine.run()
    assert not fine.exception and len(fine.get("plotly_chart")) == 2


def test_the_upload_route_reads_the_per_file_limit_on_every_request_and_refuses_while_streaming():
    # hold_uploads sets server.maxUploadSize after the server has started; that only holds if
    # the route reads the option per request and caps the body as it arrives.
    import inspect

    from streamlit import config
    from streamlit.web.server.starlette import starlette_routes

    source = inspect.getsource(starlette_routes)
    put = source[source.index("async def _upload_put"):source.index("async def _upload_delete")]
    assert 'config.get_option("server.maxUploadSize")' in put, "read per request"
    assert put.index("bytes_received > max_body_bytes") < put.index("await upload.read()"), "refused while streaming"
    assert put.index("await upload.read()") < put.index("upload_mgr.add_file("), "kept only through the manager"
    before = config.get_option("server.maxUploadSize")
    try:
        internals.hold_uploads(5 * 2**20 + 123, 64 * 2**20)
        assert config.get_option("server.maxUploadSize") == 5
    finally:
        config.set_option("server.maxUploadSize", before)


def test_a_visitor_cannot_keep_more_uploads_than_the_limit_and_the_uploader_honours_the_option():
    from starlette.exceptions import HTTPException
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    internals.limit_visitor_uploads(manager, 10_000)
    internals.limit_visitor_uploads(manager, 10_000)  # idempotent: wrapped once

    def rec(file_id, size):
        return UploadedFileRec(file_id=file_id, name=f"{file_id}.png", type="image/png", data=b"x" * size)

    manager.add_file("alice", rec("a", 6_000))
    manager.add_file("alice", rec("a", 7_000))  # the same file again counts once
    with pytest.raises(HTTPException) as refused:
        manager.add_file("alice", rec("b", 4_000))
    assert refused.value.status_code == 413
    assert refused.value.detail == ("This server holds at most 9.8 KB of uploads per visitor at a time; "
                                    "remove some files before adding more.")
    assert [f.file_id for f in manager.get_files("alice", ["a", "b"])] == ["a"], "the refused file is not kept"
    manager.add_file("bob", rec("c", 9_000))  # each visitor has a limit of their own
    manager.remove_file("alice", "a")
    manager.add_file("alice", rec("b", 4_000))  # removing a file frees its room
    assert len(manager.get_files("alice", ["b"])) == 1

    def app():
        import streamlit as st

        st.file_uploader("pictures", accept_multiple_files=True)

    from streamlit import config

    before = config.get_option("server.maxUploadSize")
    try:
        internals.hold_uploads(7 * 2**20, 64 * 2**20)
        at = AppTest.from_function(app)
        at.run()
        (uploader,) = at.get("file_uploader")
        assert uploader.proto.max_upload_size_mb == 7, "the browser refuses a larger file before sending it"
    finally:
        config.set_option("server.maxUploadSize", before)
