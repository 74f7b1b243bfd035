"""Who a page runs for: the app's own entry (through_app), the deployment's settings,
and in demo mode the visitor, what they may see and act on, and the uploads their
session uses. Not a page itself (app.py lists pages explicitly)."""

from __future__ import annotations

import secrets
from pathlib import Path

import streamlit as st

from gan_core import runs, visitors
from pages.common.shared import plain
from pages.common.streamlit_internals import browser_secret, uses_pages_directory


def through_app() -> None:
    """Call first in every page. On a freshly started server, a page URL opened
    before anyone has opened the app's root runs in Streamlit's legacy ``pages/``
    mode, without app.py: no navigation, no page config, file names in the sidebar.
    Run app.py instead, which declares the pages and runs this one properly
    (and switches the server out of legacy mode for good)."""
    if not uses_pages_directory():
        return
    import runpy

    runpy.run_path(str(Path(__file__).resolve().parents[2] / "app.py"))
    st.stop()


def settings_or_stop():
    """The deployment's settings (gan_core.settings); a bad environment variable
    ends the page with its one-sentence error."""
    from gan_core.errors import GanError
    from gan_core.settings import load_settings

    try:
        return load_settings()
    except GanError as e:
        st.error(plain(str(e)))
        st.stop()


IN_USE = "_visitor_in_use"  # session key: {"zip": path, "checkpoint": path} this session uses now


def visitor(settings) -> str | None:
    """In demo mode, who this browser is: the owner id (gan_core.visitors) of the
    token in its XSRF cookie, so a refresh or a second tab keeps the visitor's runs;
    where there is no such cookie (XSRF protection off, tests), a random token kept
    for this session. Outside demo mode None: everything is everyone's."""
    if not settings.demo:
        return None
    if "_visitor" not in st.session_state:
        secret = browser_secret()
        st.session_state["_visitor"] = visitors.owner_id(secret or secrets.token_hex(16))
    return st.session_state["_visitor"]


def visible_runs(settings) -> list[runs.RunInfo]:
    """Every run this visitor may see (all of them outside demo mode), newest first."""
    if not settings.demo:
        return runs.list_runs(settings.runs_dir)
    owner = visitor(settings)
    # Other visitors' run folders are never read: only their owner.json is looked at (visitors.may_act).
    return runs.list_runs(settings.runs_dir, keep=lambda path: visitors.may_act(path, owner, settings))


def may_act(run, settings) -> bool:
    """Whether this visitor may stop, resume, download or delete ``run``."""
    return visitors.may_act(run, visitor(settings), settings)


def use_upload(kind: str, path) -> None:
    """Say which upload of ``kind`` ("zip" or "checkpoint") this session uses now
    (None: none), so tidying never removes it from under the visitor."""
    st.session_state.setdefault(IN_USE, {})[kind] = str(path) if path else None


def restore_upload(selected, widget) -> bool:
    """Whether the uploaded file this session shows is gone from disk (in demo mode a
    newer upload from the visitor's other tab makes the sweep remove it) while the
    upload widget still holds its bytes, so the page should save it again."""
    if widget is None or not selected:
        return False
    path = Path(selected)
    return "uploads" in path.parts and not path.exists()


def tidy_uploads(settings) -> None:
    """Demo mode: remove uploads no longer used (gan_core.visitors.sweep_uploads), on every page load."""
    if settings.demo:
        visitors.sweep_uploads(settings.runs_dir, visitor(settings), keep=st.session_state.get(IN_USE, {}).values())
