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


__all__ = ["XSRF_COOKIE", "uses_pages_directory", "fragment_rerun", "xsrf_secret", "browser_secret", "unvalidated_figure", "numbered"]
