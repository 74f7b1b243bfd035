"""A page's own-checkpoint uploader and the loading of a listed checkpoint, each
ending in one sentence when the file is refused. Not a page itself."""

from __future__ import annotations

import streamlit as st

from gan_core.errors import GanError
from pages.common.session import restore_upload, tidy_uploads, use_upload
from pages.common.shared import plain


def keep_checkpoint_upload(widget: str, selected: str, kind: str, save, runs_dir, owner) -> None:
    """``on_change`` of a checkpoint uploader: the file goes through ``save`` (one of
    ``gan_core.uploads.save_*_upload``, which checks it in memory before writing), and
    once kept it is the page's selected checkpoint; a refusal is kept for the page to show."""
    upload = st.session_state.get(widget)
    st.session_state[f"{widget}_error"] = None
    if upload is None:
        return
    try:
        saved = save(upload.getvalue(), upload.name, runs_dir, owner)
    except GanError as e:
        st.session_state[f"{widget}_error"] = str(e)
        return
    use_upload(kind, saved)
    st.session_state[selected] = str(saved)


def own_checkpoint(title: str, caption: str, widget: str, selected: str, kind: str, save, settings, owner) -> None:
    """The "use a checkpoint of your own" expander of a page whose checkpoints ``save`` accepts.
    A file this session kept that the demo sweep removed (the visitor's other tab) is kept again."""
    args = (widget, selected, kind, save, settings.runs_dir, owner)
    if restore_upload(st.session_state.get(selected), st.session_state.get(widget)):
        keep_checkpoint_upload(*args)
    use_upload(kind, st.session_state.get(selected))
    tidy_uploads(settings)
    with st.expander(title, icon=":material/upload:"):
        st.caption(caption)
        st.file_uploader("Checkpoint (.safetensors)", type=["safetensors"], key=widget, on_change=keep_checkpoint_upload, args=args)
        if st.session_state.get(f"{widget}_error"):
            st.error(plain(st.session_state[f"{widget}_error"]))


def loaded_or_stop(entry, load):
    """``load(path, mtime)`` for a listed checkpoint, or its one-sentence error and the end of the page."""
    if entry.error:
        st.error(plain(entry.error))
        st.stop()
    try:
        return load(str(entry.path), entry.mtime)
    except GanError as e:
        st.error(plain(str(e)))
        st.stop()
