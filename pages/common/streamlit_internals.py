"""Every private Streamlit (and Plotly) behaviour the pages rely on, in one place.

Each is something no public API offers and the pages cannot do without; each is
wrapped in one small function here, with why it is needed, and checked on the
installed versions by tests/pages/test_streamlit_internals.py, so an upgrade that
changes one fails there (requirements.txt pins both libraries) rather than in a
visitor's browser. Not a page itself (app.py lists pages explicitly).
"""

from __future__ import annotations

# The cookie Streamlit's server sets on every browser for its XSRF protection
# (streamlit.web.server.starlette.starlette_server_config.XSRF_COOKIE_NAME).
XSRF_COOKIE = "_streamlit_xsrf"


def uses_pages_directory() -> bool:
    """Whether the server runs in Streamlit's legacy ``pages/`` mode: a page URL
    opened on a freshly started server, before anyone opened the app's root, runs
    without app.py (no navigation, no page config). st.navigation sets the class
    flag to False for good once app.py has run; no public flag tells the two apart."""
    from streamlit.runtime.pages_manager import PagesManager

    return bool(getattr(PagesManager, "uses_pages_directory", False))


def fragment_rerun() -> bool:
    """True in a rerun of a fragment alone (its ``run_every`` timer), False in a full
    run of the page. The labs' frame loop keeps drawing only in the former: in a full
    run it must return at once so the rest of the page renders. Streamlit has no
    public flag for it; the script run context lists the fragments this run runs."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def xsrf_secret(cookie: str) -> str | None:
    """The random token inside Streamlit's XSRF cookie, or None. The cookie is
    "2|mask|masked token|timestamp" and the server masks the same token afresh on
    every response, so the cookie text changes but the token does not: it stays the
    same for a browser until its session cookies are cleared. Demo mode needs a
    visitor identity that survives a refresh and a second tab, and Streamlit offers
    none; this token is the only per-browser secret it keeps."""
    parts = cookie.split("|") if isinstance(cookie, str) else []
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    if len(mask) != 4 or len(masked) < 16:
        return None
    return bytes(b ^ mask[i % 4] for i, b in enumerate(masked)).hex()


def browser_secret() -> str | None:
    """This browser's XSRF token (``xsrf_secret`` of its cookie), or None where there
    is no such cookie (XSRF protection off, AppTest)."""
    import streamlit as st

    return xsrf_secret(st.context.cookies.get(XSRF_COOKIE, ""))


def unvalidated_figure(spec: dict):
    """A Plotly figure from plain trace and layout dicts, without Plotly's property
    validation (the private ``_validate=False``): the validators cost ten times the
    rest of a live chart's drawing. Only for specs built by the pages' own code,
    whose page tests validate the same dicts once."""
    import plotly.graph_objects as go

    return go.Figure(spec, _validate=False)


def numbered(fig, count: int):
    """``fig`` made distinct by ``count``. Streamlit derives a chart's element id from
    its figure, so two equal figures drawn in one script run (a paused frame redrawn
    into the same placeholder within a fragment's loop) raise a duplicate-element
    error; ``layout.meta`` changes the id and nothing on the chart."""
    fig.update_layout(meta=count)
    return fig


def hold_uploads(file_bytes: int, visitor_bytes: int) -> None:
    """Make Streamlit's server keep to the engine's upload limits (``settings.upload_limits``)
    before it keeps a byte. Streamlit holds every uploaded file in the server's memory for
    as long as the visitor's session does, and its only limit is ``server.maxUploadSize``,
    one number for the whole server, read from the config file when the server starts.

    - ``server.maxUploadSize`` is set to ``file_bytes`` (in whole MB). The upload route reads
      the option on every request and refuses a larger body while it streams in, before it
      is buffered (starlette_routes ``_upload_put``); every uploader drawn after this shows
      the same limit, so the browser refuses a larger file before sending it.
    - The runtime's uploaded-file manager refuses a file that would take one session's held
      files past ``visitor_bytes`` (HTTP 413, which the uploader shows on that file): the
      number of files a widget accepts is not a server-side limit in Streamlit, so 200
      pictures would otherwise all be kept.

    Idempotent and cheap: app.py calls it on every run, so a config file re-read by
    Streamlit cannot undo it."""
    from streamlit import config, runtime

    file_mb = max(1, file_bytes // 2**20)
    if config.get_option("server.maxUploadSize") != file_mb:
        config.set_option("server.maxUploadSize", file_mb)
    if runtime.exists():  # not in AppTest and bare scripts: no server, nothing uploaded
        limit_visitor_uploads(runtime.get_instance().uploaded_file_mgr, visitor_bytes)


def limit_visitor_uploads(manager, visitor_bytes: int) -> None:
    """Wrap ``manager.add_file`` (Streamlit's ``MemoryUploadedFileManager``, which the upload
    route calls once a body has arrived within ``server.maxUploadSize``) so that a file
    which would take its session's held files past ``visitor_bytes`` is refused with HTTP
    413 and not kept. A file sent again under the same id counts once. Wrapped once; a
    later call only changes the limit."""
    manager._gan_workbench_visitor_bytes = visitor_bytes
    if getattr(manager, "_gan_workbench_held", False):
        return
    add_file = manager.add_file

    def add_within_budget(session_id, file):
        from starlette.exceptions import HTTPException

        from gan_core.untrusted import byte_size

        with manager._lock:
            held = manager.file_storage.get(session_id, {})
            others = sum(len(f.data) for file_id, f in held.items() if file_id != file.file_id)
        limit = manager._gan_workbench_visitor_bytes
        # Checked, then added, outside one lock (add_file takes the manager's own, which is
        # not re-entrant): two uploads of one visitor finishing at the same instant can
        # both pass, so the bound is the limit plus one file (32 MB on a demo).
        if others + len(file.data) > limit:
            raise HTTPException(status_code=413, detail=(
                f"This server holds at most {byte_size(limit)} of uploads per visitor at a time; "
                "remove some files before adding more."))
        add_file(session_id, file)

    manager.add_file = add_within_budget
    manager._gan_workbench_held = True


__all__ = ["XSRF_COOKIE", "hold_uploads", "limit_visitor_uploads", "uses_pages_directory", "fragment_rerun", "xsrf_secret", "browser_secret", "unvalidated_figure", "numbered"]
