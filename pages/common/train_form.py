"""The Train form's widgets, drawn from their declaration (gan_core.form.FIELDS), and
what the page remembers of them. Not a page: app.py lists the pages it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import streamlit as st

from gan_core import form, presets
from gan_core.config import Config
from gan_core.form import FORM_KEYS
from pages.common.keys import Train


def restore_form() -> None:
    """Bring back what the user had chosen, and make the browser show it.

    Streamlit forgets a page's widget values when another page is shown. And a
    widget hidden for a while (the image size while training on points, the
    built-in set while uploading) is drawn anew by the browser at its first
    option or its minimum, while the server still holds the value kept here:
    Streamlit sends a widget's value only when it was written in this script run.
    So every value is written again on every run, and the select, its caption,
    the command line and the run all show the same one."""
    remembered = st.session_state.get(Train.FORM, {})
    for key in FORM_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
        elif key in remembered:
            st.session_state[key] = remembered[key]


def remember_form() -> None:
    st.session_state[Train.FORM] = {k: st.session_state[k] for k in FORM_KEYS if k in st.session_state}


def put_default(key: str, value, signature) -> None:
    """Give a widget its recipe default when the recipe (its defaults) changes, and
    keep whatever the user typed otherwise."""
    sigs = st.session_state.setdefault(Train.DEFAULT_SIGS, {})
    if key not in st.session_state or sigs.get(key) != signature:
        st.session_state[key] = value
        sigs[key] = signature


def put_defaults(section: str, recipe_defaults: Config, kind: str, max_steps: int | None) -> None:
    for key, value in form.defaults(recipe_defaults, kind, section, max_steps).items():
        field = form.BY_KEY[key]
        if field.default == form.PLAIN:
            st.session_state.setdefault(key, value)  # the user's from then on, whatever the recipe
        else:
            put_default(key, value, form.signature(field, recipe_defaults.recipe))


def apply_preset(key: str, max_steps: int | None = None) -> None:
    """Fill the form with a preset (gan_core.presets): its recipe, data and steps (no
    more than this server allows), and the recipe's defaults for everything else, as
    if chosen by hand."""
    values, signatures = form.preset_values(presets.PRESETS[key].config, max_steps)
    st.session_state.update(values)
    st.session_state[Train.FORM] = {**st.session_state.get(Train.FORM, {}), **values}
    st.session_state.setdefault(Train.DEFAULT_SIGS, {}).update(signatures)  # these values are the defaults put_default would give
    st.session_state[Train.PRESET_NOTE] = key


def draw(field: form.FormField, where, recipe_defaults: Config, options: dict | None = None) -> Any:
    """One field's widget, as declared; ``options`` ({value: label}) for choices known
    only at run time (the devices of this server)."""
    kind = field.kind_of_widget()
    common = dict(key=field.key, help=field.help_text(recipe_defaults))
    if kind in ("select", "radio"):
        values = list(options or field.options(recipe_defaults))
        if st.session_state.get(field.key) not in values:
            st.session_state[field.key] = values[0]
        shown = (lambda v: options[v]) if options else str
        if kind == "radio":
            return where.radio(field.label, values, horizontal=True, format_func=shown, **common)
        return where.selectbox(field.label, values, format_func=shown, **common)
    if kind == "number":
        return where.number_input(field.label, step=field.step, format=field.format, **common)
    if kind == "toggle":
        return where.toggle(field.label, **common)
    return where.text_input(field.label, **common)


def draw_section(section: str, recipe_defaults: Config, kind: str, options: dict[str, dict] | None = None,
                 after_row: dict[int, Callable[[], None]] | None = None,
                 instead: dict[str, Callable[[], None]] | None = None) -> dict[str, Any]:
    """The fields of ``section`` that apply, row by row as declared; returns {key: value}.
    ``after_row`` draws something under a row; ``instead`` draws something in place of a
    field that does not apply (a WGAN's fixed loss)."""
    options, after_row, instead = options or {}, after_row or {}, instead or {}
    rows: dict[int, list[form.FormField]] = {}
    for f in form.FIELDS:
        if f.section == section and (f.applies(recipe_defaults, kind) or f.key in instead):
            rows.setdefault(f.row, []).append(f)
    values = {}
    for row, fields in rows.items():
        # a field alone has the full width, drawn straight on the page as before (no column of one)
        places = st.columns([f.width for f in fields]) if len(fields) > 1 else [st]
        for f, where in zip(fields, places):
            if not f.applies(recipe_defaults, kind):
                with where if where is not st else nullcontext():
                    instead[f.key]()
                continue
            values[f.key] = draw(f, where, recipe_defaults, options.get(f.key))
        if row in after_row:
            after_row[row]()
    return values


__all__ = ["restore_form", "remember_form", "put_default", "put_defaults", "apply_preset", "draw", "draw_section"]
